"""test/sample_fake_images2npy.py on a two-iteration MNIST checkpoint trained here on a tiny
data root: layout, dtype, range, codes, determinism, the EMA generator, refusals."""

import os

import numpy as np
import pytest
import torch

from codegan.data.datasets import DATASETS
from codegan.errors import UserError
from codegan.evaluation.fakes import codes_path_for, load_fakes
from codegan.latent import sample_latent
from codegan.evaluation.sampling import load_generator, load_nets
from conftest import REPO, TINY, load_script, make_tiny_mnist


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """Train MNIST for 2 iterations (EMA on, from iteration 0) on the tiny synthetic MNIST."""
    from codegan.training.cli import train_main

    root = make_tiny_mnist(tmp_path_factory.mktemp("data"))
    out = tmp_path_factory.mktemp("runs")
    run = train_main(os.path.join(REPO, "MNIST"), [
        *[f"--{k}={v}" for k, v in TINY.items()], f"--data_root={root}", f"--out={out}",
        "--use_ema=true", "--ema_start=0", "--ema_decay=0.5"])
    ckpts = sorted(os.listdir(os.path.join(run, "checkpoints")))
    return os.path.join(run, "checkpoints", ckpts[-1])


@pytest.fixture(scope="module")
def script():
    return load_script("sample_fake_images2npy", "test", "sample_fake_images2npy.py")


def expected_fakes(G, cfg, n, seed, mode="truncate"):
    """What the protocol asks for, written out directly: the seed's latents through G, mapped
    from the image range to [0, 255], truncated as the official sampler's astype('int32')
    (CIFAR-10/utils/sample_fake_images2npy.py:30) or rounded, channels last."""
    z, c = sample_latent(n, cfg.zn_dim, cfg.zc_dim, "cpu", generator=torch.Generator()
                         .manual_seed(seed))
    with torch.no_grad():
        x = G(z, c)
    lo, hi = DATASETS[cfg.dataset].image_range
    x = ((x - lo) / (hi - lo) * 255).clamp(0, 255)
    x = (x.round() if mode == "round" else x.floor()).to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy(), c.numpy()


def test_fakes_file_layout_range_and_codes(checkpoint, script, tmp_path):
    out = str(tmp_path / "fakes.npy")
    script.main([f"--checkpoint={checkpoint}", "--num=120", f"--out={out}", "--batch_size=50",
                 "--seed=3", "--device=cpu"])
    x, c = np.load(out), np.load(codes_path_for(out))
    assert x.dtype == np.uint8 and x.shape == (120, 28, 28, 1)  # gray stays 1-channel, NHWC
    assert c.dtype == np.int64 and c.shape == (120,) and set(c) == set(range(10))
    G, cfg = load_generator(checkpoint, "cpu")
    ex, ec = expected_fakes(G, cfg, 120, seed=3)
    np.testing.assert_array_equal(c, ec)
    # identical up to float round-off at a .5 boundary (batching may move the last bit)
    assert np.abs(x.astype(int) - ex.astype(int)).max() <= 1
    assert (x != ex).mean() < 1e-3
    assert x.std() > 0  # a real image, not a constant
    images, codes, _ = load_fakes(out, 100)
    np.testing.assert_array_equal(images, x[:100])
    np.testing.assert_array_equal(codes, c[:100])


def test_fakes_are_deterministic_under_seed_and_independent_of_batch_size(checkpoint, script,
                                                                          tmp_path):
    paths = {}
    for name, seed, bs in [("a", 7, 64), ("b", 7, 13), ("c", 8, 64)]:
        paths[name] = str(tmp_path / f"{name}.npy")
        script.main([f"--checkpoint={checkpoint}", "--num=64", f"--out={paths[name]}",
                     f"--seed={seed}", f"--batch_size={bs}", "--device=cpu"])
    a, b, c = (np.load(paths[k]) for k in "abc")
    np.testing.assert_array_equal(np.load(codes_path_for(paths["a"])),
                                  np.load(codes_path_for(paths["b"])))
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1 and (a != b).mean() < 1e-3
    assert (a != c).mean() > 0.1  # another seed, other images


def test_uint8_truncates_by_default_and_rounds_on_request(checkpoint, script, tmp_path):
    G, cfg = load_generator(checkpoint, "cpu")
    outs = {}
    for mode in ("truncate", "round"):
        out = str(tmp_path / f"{mode}.npy")
        script.main([f"--checkpoint={checkpoint}", "--num=40", f"--out={out}", "--device=cpu"]
                    + ([] if mode == "truncate" else ["--uint8=round"]))
        outs[mode] = np.load(out).astype(int)
        ex, _ = expected_fakes(G, cfg, 40, seed=0, mode=mode)
        assert np.abs(outs[mode] - ex.astype(int)).max() <= 1 and (outs[mode] != ex).mean() < 1e-3
    diff = outs["round"] - outs["truncate"]
    assert set(np.unique(diff)) <= {0, 1} and 0.3 < diff.mean() < 0.7  # about half round up


def test_the_ema_generator_is_used(checkpoint):
    G_ema, cfg = load_generator(checkpoint, "cpu")
    nets, _, state = load_nets(checkpoint, "cpu")
    assert state["G_ema"] is not None
    ema, _ = expected_fakes(G_ema, cfg, 32, seed=0)
    plain, _ = expected_fakes(nets.G, cfg, 32, seed=0)
    assert (ema != plain).any()  # after 2 iterations at decay 0.5 the two differ
    from codegan.evaluation.fakes import generate_fakes

    got, _ = generate_fakes(G_ema, cfg.zn_dim, cfg.zc_dim, DATASETS[cfg.dataset].image_range, 32)
    assert np.abs(got.astype(int) - ema.astype(int)).max() <= 1


def test_refusals_are_clear(checkpoint, script, tmp_path, capsys):
    out = str(tmp_path / "f.npy")
    script.main([f"--checkpoint={checkpoint}", "--num=4", f"--out={out}", "--device=cpu"])
    for argv, why in [
        ([f"--checkpoint={checkpoint}", "--num=4", f"--out={out}"], "already exists"),
        ([f"--checkpoint={checkpoint}", "--num=0", f"--out={out}x.npy"], "--num must be >= 1"),
        ([f"--checkpoint={tmp_path}/none.pt", f"--out={out}y.npy"], "not found"),
        ([f"--checkpoint={checkpoint}", "--num=4", f"--out={tmp_path}/f.txt"], "end in .npy"),
    ]:
        with pytest.raises(SystemExit) as e:
            script.main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert why in err and "Traceback" not in err
    # --overwrite replaces, with the same content for the same seed
    before = np.load(out)
    script.main([f"--checkpoint={checkpoint}", "--num=4", f"--out={out}", "--overwrite",
                 "--device=cpu"])
    np.testing.assert_array_equal(np.load(out), before)


def test_load_fakes_rejects_a_file_with_fewer_images_than_asked(tmp_path):
    p = str(tmp_path / "few.npy")
    np.save(p, np.full((5, 8, 8, 3), 200, np.uint8))
    with pytest.raises(UserError, match="holds 5 images, fewer than the --num=10"):
        load_fakes(p, 10)
    with pytest.raises(UserError, match="no such file"):
        load_fakes(str(tmp_path / "missing.npy"), 10)
