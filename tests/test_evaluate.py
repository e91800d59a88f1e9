"""The E-based evaluation's inference path (codegan/evaluation/e_based.py): same features as the
module."""

import os

import pytest
import torch

from codegan.config import load_config
from codegan.evaluation.e_based import encode, eval_encoder
from codegan.folders import load_models

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("folder", ["MNIST", "COIL-20"])  # shared InfoGAN E; ResNet-18 E_c with BN
def test_eval_encoder_gives_the_module_features_and_leaves_it_untouched(folder):
    cfg = load_config(os.path.join(REPO, folder, "param.yml"))
    torch.manual_seed(0)
    nets = load_models(os.path.join(REPO, folder)).build_nets(cfg)
    size = 28 if folder == "MNIST" else 32
    x = torch.randint(0, 256, (37, 1, size, size), dtype=torch.uint8)
    enc = nets.E if nets.shared else nets.E_c
    if not nets.shared:  # non-trivial BatchNorm running statistics, used in eval mode
        enc.train()
        with torch.no_grad():
            enc(torch.rand(64, 1, size, size))
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    nets.eval()
    ref = encode(nets.enc_c, x, (0, 1), 16, torch.device("cpu"))
    fast = encode(eval_encoder(nets, cfg, torch.device("cpu")), x, (0, 1), 16,
                  torch.device("cpu"))
    assert fast.shape == (37, cfg.fc_dim)
    torch.testing.assert_close(torch.from_numpy(fast), torch.from_numpy(ref), rtol=1e-4,
                               atol=1e-5)
    # the training module keeps its weights, statistics and NCHW layout
    for k, v in enc.state_dict().items():
        assert torch.equal(v, before[k]), k
        if v.dim() == 4:
            assert v.is_contiguous(), k
    # a different encoder gives different features: the comparison above can fail
    other = load_models(os.path.join(REPO, folder)).build_nets(cfg).eval()
    assert not torch.allclose(torch.from_numpy(encode(other.enc_c, x, (0, 1), 16,
                                                      torch.device("cpu"))),
                              torch.from_numpy(ref), atol=1e-3)
