"""SimCLR pre-training of E_c: NT-Xent against a direct loop, the views, the resumable command,
and the weights file that train.py loads."""

import json
import math
import os

import pytest
import torch
from modes_util import FASHION, fashion_cfg, make_tiny

from codegan.errors import UserError
from codegan.pretraining.simclr import SimCLRPretrainer, SimCLRViews, gray_jitter, nt_xent


def nt_xent_loop(z1, z2, temp):
    """NT-Xent written out view by view, as in the SimCLR paper (algorithm 1)."""
    n = len(z1)
    v = [x / x.norm() for x in torch.cat([z1, z2])]
    total = 0.0
    for i in range(2 * n):
        j = i + n if i < n else i - n
        num = math.exp(float(v[i] @ v[j]) / temp)
        den = sum(math.exp(float(v[i] @ v[k]) / temp) for k in range(2 * n) if k != i)
        total += -math.log(num / den)
    return total / (2 * n)


@pytest.mark.parametrize("n,d,temp", [(2, 3, 0.5), (5, 4, 0.1), (3, 8, 1.0)])
def test_nt_xent_equals_a_direct_loop(n, d, temp):
    g = torch.Generator().manual_seed(n * 100 + d)
    z1, z2 = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g) * 3
    assert float(nt_xent(z1, z2, temp)) == pytest.approx(nt_xent_loop(z1, z2, temp), rel=1e-5)


def test_nt_xent_known_answer_and_symmetry():
    # identical views of orthogonal images: the partner has cosine 1, the 2N-2 others 0
    n, t = 3, 0.5
    z = torch.eye(n)
    want = -math.log(math.exp(1 / t) / (math.exp(1 / t) + (2 * n - 2)))
    assert float(nt_xent(z, z, t)) == pytest.approx(want, rel=1e-6)
    z1, z2 = torch.randn(4, 5), torch.randn(4, 5)
    assert float(nt_xent(z1, z2, 0.3)) == pytest.approx(float(nt_xent(z2, z1, 0.3)), rel=1e-6)
    # matching the partners lowers the loss below shuffled partners
    assert nt_xent(z1, z1 + 0.01 * z2, 0.3) < nt_xent(z1, z2, 0.3)
    with pytest.raises(ValueError):
        nt_xent(torch.randn(3, 4), torch.randn(2, 4), 0.5)


def test_views_are_drawn_per_image_and_keep_shape_and_range(tmp_path):
    cfg = fashion_cfg(tmp_path, tmp_path)
    views = SimCLRViews(cfg, channels=1, image_range=(0, 1))
    torch.manual_seed(0)
    x = torch.rand(1, 1, 28, 28).repeat(16, 1, 1, 1)  # 16 copies of one image
    v = views(x)
    assert v.shape == x.shape and v.min() >= 0 and v.max() <= 1
    distinct = {tuple(r.flatten()[:50].round(decimals=4).tolist()) for r in v}
    assert len(distinct) > 8  # one draw per batch would give a single view


def test_gray_jitter_identity_when_off_and_brightness_scales():
    x = torch.rand(6, 1, 5, 5) * 0.5
    assert torch.equal(gray_jitter(x, 0.4, 0.4, p=0.0), x)
    torch.manual_seed(1)
    y = gray_jitter(x, 0.4, 0.0, p=1.0)  # brightness only: y = x * b, b in [0.6, 1.4]
    ratio = (y.flatten(1) / x.flatten(1)).clamp(max=10)
    assert torch.allclose(ratio.min(1).values, ratio.max(1).values, atol=1e-5)
    assert (ratio[:, 0] >= 0.6 - 1e-6).all() and (ratio[:, 0] <= 1.4 + 1e-6).all()
    x = 0.4 + 0.2 * torch.rand(6, 1, 5, 5)
    z = gray_jitter(x, 0.0, 0.2, p=1.0)  # contrast only keeps each image's mean (no clamping
    assert torch.allclose(z.mean((1, 2, 3)), x.mean((1, 2, 3)), atol=1e-5)  # in this range)
    assert not torch.allclose(z, x)


def test_pretraining_writes_weights_train_loads_and_refuses_to_overwrite(tmp_path):
    from codegan.training.loop import Trainer

    data = make_tiny(tmp_path / "data")
    weights = str(tmp_path / "w" / "simclr.pt")
    cfg = fashion_cfg(data, tmp_path / "runs", pretrain_path=weights)
    before = {k: v.clone() for k, v in SimCLRPretrainer(cfg, FASHION).enc.state_dict().items()}
    res = SimCLRPretrainer(cfg, FASHION).run()
    for key in ("acc", "acc_purity", "nmi", "ari"):
        assert 0 <= res[key] <= 1 + 1e-9
    blob = torch.load(weights, weights_only=True)
    assert blob["format"] == "codegan-pretrained-E_c" and blob["dataset"] == "fashion_mnist"
    assert blob["kind"] == "simclr" and blob["iterations"] == 2
    with open(str(tmp_path / "w" / "simclr.results.json")) as f:
        assert json.load(f)["nmi"] == res["nmi"]
    assert not os.path.exists(str(tmp_path / "w" / "simclr.resume.pt"))
    # the same seed builds the same start; two NT-Xent steps moved it
    assert before.keys() == blob["state_dict"].keys()
    assert any(not torch.equal(before[k], blob["state_dict"][k]) for k in before)
    # train.py with pretrain: true starts from exactly these weights
    t = Trainer(cfg.replace(pretrain=True, chain_step=1, load_path="scratch"), FASHION)
    for k, v in t.nets.E.state_dict().items():
        assert torch.equal(v, blob["state_dict"][k]), k
    with pytest.raises(UserError, match="never overwritten"):
        SimCLRPretrainer(cfg, FASHION)


def test_resume_continues_bit_identically(tmp_path):
    data = make_tiny(tmp_path / "data")
    straight = fashion_cfg(data, tmp_path, pretrain_iters=4, pretrain_path=str(tmp_path / "a.pt"))
    SimCLRPretrainer(straight, FASHION).run()

    part = SimCLRPretrainer(straight.replace(pretrain_path=str(tmp_path / "b.pt")), FASHION)
    part.step(), part.step()
    part.iteration = 2
    part.save_resume()
    resume = str(tmp_path / "b.resume.pt")
    assert os.path.isfile(resume)
    with pytest.raises(UserError, match="--resume="):  # an unfinished run is not silently redone
        SimCLRPretrainer(straight.replace(pretrain_path=str(tmp_path / "b.pt")), FASHION)
    SimCLRPretrainer(straight, FASHION, resume=resume).run()
    a = torch.load(str(tmp_path / "a.pt"), weights_only=True)["state_dict"]
    b = torch.load(str(tmp_path / "b.pt"), weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_command_reports_bad_input_clearly(tmp_path, capsys):
    from codegan.pretraining.simclr import pretrain_main

    with pytest.raises(SystemExit) as e:
        pretrain_main(FASHION, ["--pretrain_temp=0"])
    assert e.value.code == 2 and "pretrain_temp" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        pretrain_main(FASHION, [f"--resume={tmp_path}/nothing.resume.pt"])
    assert "not found" in capsys.readouterr().err


def test_a_resumed_pre_training_may_change_how_long_never_what_it_computes(tmp_path):
    """The keys a resume may change are derived from the declared roles: the budget and the
    checkpoint interval may change, the loss's temperature may not."""
    from codegan.pretraining.encoder_loop import RESUME_KEYS, from_command_line

    assert {"pretrain_iters", "pretrain_epochs", "pretrain_save_iters", "meta_iters",
            "device", "kmeans_runs"} <= RESUME_KEYS
    assert not {"pretrain_temp", "pretrain_lr", "pretrain_batch_size", "meta_lr",
                "seed"} & RESUME_KEYS
    with pytest.raises(UserError, match="--pretrain_temp cannot change when resuming a "
                                        "pre-training: it changes what is computed"):
        from_command_line(FASHION, [f"--resume={tmp_path}/x.resume.pt", "--pretrain_temp=0.2"],
                          SimCLRPretrainer)


def test_the_pre_training_refuses_another_method(capsys):
    """pretrain.py trains E_c with CoDeGAN's settings whichever method reads the file later; a
    --method would leave those settings out, so it is one message, not a traceback."""
    from codegan.pretraining.simclr import pretrain_main

    with pytest.raises(SystemExit) as e:
        pretrain_main(FASHION, ["--method=congan", "--pretrain_loss=simsiam"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--method" in err and "Traceback" not in err
