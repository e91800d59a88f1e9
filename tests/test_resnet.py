"""ResNet G / D / encoders of the CIFAR-10, COIL-20 and 3D models (codegan/nets/resnet.py)."""

import os

import pytest
import torch

from codegan.config import load_config
from codegan.nets.resnet import (DBlock, ResNet18Encoder, ResNetClassifier, ResNetDiscriminator,
                                 ResNetGenerator, resnet18_trunk)
from codegan.folders import load_models

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("folder, channels, size, sn", [
    ("CIFAR-10", 3, 32, True), ("COIL-20", 1, 32, False),
    ("3D-Chairs", 3, 64, False)])  # 3D-Cars builds the same nets (smoke-tested)
def test_folder_nets_shapes_ranges_and_spectral_norm(folder, channels, size, sn):
    cfg = load_config(os.path.join(REPO, folder, "param.yml"))
    torch.manual_seed(0)
    nets = load_models(os.path.join(REPO, folder)).build_nets(cfg)
    assert not nets.shared and set(nets.encoders()) == {"E_c", "E_z"}
    z = torch.randn(3, cfg.zn_dim)
    c = torch.tensor([0, 1, cfg.zc_dim - 1])
    x = nets.G(z, c)
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1  # tanh: the [-1, 1] image range of these sets
    assert nets.D(x).shape == (3,)
    f = nets.enc_c(x)
    assert f.shape == (3, cfg.fc_dim)
    torch.testing.assert_close(f.norm(dim=1), torch.ones(3))
    assert nets.enc_z(x).shape == (3, cfg.zn_dim)
    has_sn = any("parametrizations" in n for n, _ in nets.D.named_parameters())
    assert has_sn == sn
    # the class code changes the image: G really reads c
    assert not torch.allclose(nets.G(z[:1], c[:1]), nets.G(z[:1], c[2:]))


def test_generator_layout_matches_the_paper():
    g = ResNetGenerator(118, 10, 3, 256, (256, 256, 256))
    assert g.linear.out_features == 256 * 4 * 4 and len(g.blocks) == 3 and g.size == 32
    g64 = ResNetGenerator(118, 10, 3, 512, (512, 256, 128, 64))
    assert g64.linear.out_features == 512 * 16 and len(g64.blocks) == 4 and g64.size == 64


def test_spectral_norm_bounds_the_largest_singular_value():
    torch.manual_seed(0)
    d = ResNetDiscriminator(3, 16, n_down=1, n_plain=1, spectral_norm="v_first")
    x = torch.randn(4, 3, 32, 32)
    for _ in range(30):  # power iterations run in training-mode forward passes
        d(x)
    d.eval()
    w = d.blocks[0].conv1.weight  # the normalised weight
    sigma = torch.linalg.matrix_norm(w.detach().flatten(1), ord=2)
    assert abs(float(sigma) - 1.0) < 0.05


def test_plain_block_is_identity_residual_and_optimized_block_halves():
    torch.manual_seed(0)
    plain = DBlock(8, 8, down=False, sn=None)
    assert not plain.learn_sc
    for p in (plain.conv2.weight, plain.conv2.bias):
        torch.nn.init.zeros_(p)
    x = torch.randn(2, 8, 8, 8)
    torch.testing.assert_close(plain(x), x)  # zero residual branch: the block is the identity
    opt = DBlock(3, 8, down=True, sn=None, optimized=True)
    assert opt(torch.randn(2, 3, 16, 16)).shape == (2, 8, 8, 8)


def test_cifar_stem_keeps_resolution_and_any_channel_count():
    trunk = resnet18_trunk(1)
    seen = {}

    def hook(module, inputs, output):
        seen["s"] = output.shape

    trunk.layer4.register_forward_hook(hook)
    out = trunk(torch.randn(2, 1, 32, 32))
    assert out.shape == (2, 512) and seen["s"][-2:] == (4, 4)  # ImageNet stem would give 1x1
    n_params = sum(p.numel() for p in trunk.parameters())
    assert 11.0e6 < n_params < 11.3e6  # ResNet-18 body


def test_encoder_heads_and_classifier():
    e_c = ResNet18Encoder(3, 128, normalize=True)
    e_z = ResNet18Encoder(3, 118, normalize=False)
    assert [m.out_features for m in e_c.head if hasattr(m, "out_features")] == [512, 128]
    e_z.eval()
    out = e_z(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 118) and not torch.allclose(out.norm(dim=1), torch.ones(2))
    clf = ResNetClassifier(1, 20, "resnet18")
    assert clf(torch.randn(2, 1, 32, 32)).shape == (2, 20)


def test_default_classifier_is_the_official_cifar_stem_resnet50():
    # official COIL-20/models/Encoder.py: Classifier(name='resnet50', head='linear') ->
    # model_dict['resnet50'] = [resnet50, 2048]: ResNet(Bottleneck, [3, 4, 6, 3], in_channel=1)
    # with conv1 3x3 stride 1 padding 1, no max-pool, AdaptiveAvgPool2d, then Linear(2048, 20)
    import inspect

    from torchvision.models.resnet import BasicBlock, Bottleneck

    assert inspect.signature(ResNetClassifier).parameters["arch"].default == "resnet50"
    torch.manual_seed(0)
    clf = ResNetClassifier(1, 20)
    assert clf.arch == "resnet50"
    assert (clf.fc.in_features, clf.fc.out_features) == (2048, 20)
    stem = clf.trunk.conv1
    assert (stem.in_channels, stem.kernel_size, stem.stride, stem.padding) == (1, (3, 3), (1, 1),
                                                                               (1, 1))
    assert isinstance(clf.trunk.maxpool, torch.nn.Identity)
    layers = [clf.trunk.layer1, clf.trunk.layer2, clf.trunk.layer3, clf.trunk.layer4]
    assert [len(layer) for layer in layers] == [3, 4, 6, 3]
    assert all(isinstance(b, Bottleneck) for layer in layers for b in layer)
    assert not any(isinstance(m, BasicBlock) for m in clf.modules())
    # the official Classifier() (1 input channel, 20 classes) has exactly this many parameters
    assert sum(p.numel() for p in clf.parameters()) == 23_540_180
    seen = {}
    clf.trunk.layer4.register_forward_hook(lambda m, i, o: seen.update(s=o.shape))
    clf.eval()
    x = torch.randn(2, 1, 32, 32)
    assert clf(x).shape == (2, 20) and seen["s"][1:] == (2048, 4, 4)
    assert clf.trunk(x).shape == (2, 2048)
    # the resnet18 setting: the same stem on ResNet-18's body, 512-d feature
    small = ResNetClassifier(3, 10, "resnet18")
    assert small.fc.in_features == 512 and small.trunk.conv1.in_channels == 3
    assert isinstance(small.trunk.layer1[0], BasicBlock)
    with pytest.raises(ValueError, match="resnet34"):
        ResNetClassifier(1, 20, "resnet34")


def test_gradients_reach_every_generator_and_critic_parameter():
    torch.manual_seed(0)
    g = ResNetGenerator(8, 4, 1, 16, (16, 16))
    d = ResNetDiscriminator(1, 16, n_down=0, n_plain=1, spectral_norm=None)
    x = g(torch.randn(4, 8), torch.tensor([0, 1, 2, 3]))
    d(x).mean().backward()
    for name, p in [*g.named_parameters(), *d.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name
