"""End-to-end behaviour of train.py / test.py on tiny settings (a few iterations each)."""

import json
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from codegan import checkpoint as ckpt_io
from codegan.training import cli
from codegan.training.cli import train_main
from codegan.config import load_config
from codegan.errors import UserError
from codegan.training.loop import Trainer

from conftest import REPO, TINY, make_tiny_mnist, run_interrupted

MNIST_DIR = os.path.join(REPO, "MNIST")


def args(d: dict) -> list:
    return [f"--{k}={v}" for k, v in d.items()]


def config(data_root, out, folder=MNIST_DIR, **over):
    return load_config(os.path.join(folder, "param.yml"),
                       {**TINY, "data_root": data_root, "out": str(out), **over})


def weights(run_dir):
    return ckpt_io.load_checkpoint(ckpt_io.list_checkpoints(run_dir)[-1])


def test_two_iterations_then_test_on_real_mnist(real_data, tmp_path):
    run = train_main(MNIST_DIR, args({**TINY, "data_root": real_data, "out": tmp_path}))
    assert os.path.basename(run) == "00000-mnist-unsupervised"
    for f in ("config.yml", "log.txt", "metrics.jsonl", "samples/grid-00000002.png",
              "checkpoints/ckpt-00000002.pt"):
        assert os.path.isfile(os.path.join(run, f)), f
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(run))
    rec = json.loads(open(os.path.join(run, "metrics.jsonl")).read().splitlines()[-1])
    for k in ("epoch", "iteration", "acc", "acc_purity", "nmi", "ari", "seconds"):
        assert k in rec
    assert rec["iteration"] == 2
    # one row per class code, ten samples each: 10 x (28 + 2 padding) + 2
    assert Image.open(os.path.join(run, "samples/grid-00000002.png")).size == (302, 302)
    res = cli.test_main(MNIST_DIR, [f"--data_root={real_data}", "--kmeans_runs=2", "--device=cpu",
                                f"--checkpoint={run}/checkpoints/ckpt-00000002.pt"])
    for k in ("acc", "acc_purity", "nmi", "ari"):
        assert 0 <= res[k] <= 1 and res[k + "_std"] >= 0
    assert res["acc_purity"] >= res["acc"] - 1e-12  # purity never below one-to-one ACC
    assert os.path.isfile(os.path.join(run, "checkpoints", "ckpt-00000002.results.json"))


def test_synthetic_run_and_default_checkpoint(tiny_data, tmp_path, monkeypatch, capsys):
    run = Trainer(config(tiny_data, tmp_path / "runs"), MNIST_DIR).run()
    run2 = Trainer(config(tiny_data, tmp_path / "runs"), MNIST_DIR).run()
    assert os.path.basename(run2).startswith("00001-")  # never the existing folder
    assert os.path.isfile(os.path.join(run, "checkpoints", "ckpt-00000002.pt"))
    # test.py without --checkpoint picks the newest run's newest checkpoint; results are never
    # overwritten by a second evaluation
    folder = tmp_path / "folder"
    folder.mkdir()
    for f in ("param.yml", "models.py"):
        (folder / f).write_text(open(os.path.join(MNIST_DIR, f)).read())
    with open(folder / "param.yml", "a") as fh:  # the runs above, not the folder's own runs/
        fh.write(f"out: {tmp_path / 'runs'}\n")
    cli.test_main(str(folder), [f"--data_root={tiny_data}", "--kmeans_runs=1"])
    cli.test_main(str(folder), [f"--data_root={tiny_data}", "--kmeans_runs=1"])
    files = sorted(os.listdir(os.path.join(run2, "checkpoints")))
    assert files == ["ckpt-00000002.pt", "ckpt-00000002.results-1.json",
                     "ckpt-00000002.results.json"]
    assert "ACC (purity, official)" in capsys.readouterr().out


def test_same_seed_same_weights_and_resume_equals_uninterrupted(tiny_data, tmp_path):
    # 64 images / batch 8 = 8 iterations per epoch: run 13 iterations, crossing an epoch
    full = Trainer(config(tiny_data, tmp_path / "a", max_iters=13), MNIST_DIR).run()
    again = Trainer(config(tiny_data, tmp_path / "b", max_iters=13), MNIST_DIR).run()
    part = Trainer(config(tiny_data, tmp_path / "c", max_iters=5), MNIST_DIR).run()
    ck5 = ckpt_io.list_checkpoints(part)[-1]
    resumed = Trainer(config(tiny_data, tmp_path / "c"), MNIST_DIR, resume=ck5,
                      resume_overrides={"max_iters": 13}).run()
    a, b, r = weights(full), weights(again), weights(resumed)
    assert r["iteration"] == 13 and r["config"]["resume"] == ck5
    for other in (b, r):
        for k, v in a["nets"].items():
            assert torch.equal(v, other["nets"][k]), k
        for name, opt in a["optim"].items():
            for pid, st in opt["state"].items():
                assert torch.equal(st["exp_avg"], other["optim"][name]["state"][pid]["exp_avg"])
    first = weights(part)["nets"]
    assert any(not torch.equal(first[k], a["nets"][k]) for k in first)  # it did train


def test_ctrl_c_ends_with_evaluation_and_checkpoint(tiny_data, tmp_path, monkeypatch):
    tr = Trainer(config(tiny_data, tmp_path, max_iters=50), MNIST_DIR)
    run = run_interrupted(tr, 3, monkeypatch)
    assert os.path.basename(ckpt_io.list_checkpoints(run)[-1]) == "ckpt-00000003.pt"
    rec = json.loads(open(os.path.join(run, "metrics.jsonl")).read().splitlines()[-1])
    assert rec["iteration"] == 3
    assert "interrupted at iteration 3" in open(os.path.join(run, "log.txt")).read()


def test_a_second_ctrl_c_names_the_last_checkpoint_in_one_line(tiny_data, tmp_path, monkeypatch,
                                                               capsys):
    """A second Ctrl-C raises KeyboardInterrupt inside an iteration: train.py ends with exit 130
    and one line naming the iteration and the checkpoint to continue from, not a traceback;
    that checkpoint is left as it was."""
    run = train_main(MNIST_DIR, args({**TINY, "data_root": tiny_data, "out": tmp_path}))
    first = ckpt_io.list_checkpoints(run)
    assert [os.path.basename(c) for c in first] == ["ckpt-00000002.pt"]
    step = Trainer.train_iteration

    def aborted(self):
        if self.iteration == 4:
            raise KeyboardInterrupt  # what the handler raises on the second signal
        return step(self)

    monkeypatch.setattr(Trainer, "train_iteration", aborted)
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        train_main(MNIST_DIR, args({**TINY, "data_root": tiny_data, "out": tmp_path,
                                    "max_iters": 10, "resume": "auto"}))
    assert e.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"aborted at iteration 4, without the final evaluation and checkpoint. The "
                   f"last checkpoint is {first[0]}; continue from it with --resume=auto."]
    assert ckpt_io.list_checkpoints(run) == first
    assert ckpt_io.load_checkpoint(first[0])["iteration"] == 2


def test_killed_while_saving_keeps_previous_checkpoint(tiny_data, tmp_path, monkeypatch):
    tr = Trainer(config(tiny_data, tmp_path, max_iters=1), MNIST_DIR)
    run = tr.run()
    good = ckpt_io.list_checkpoints(run)[-1]
    tr.train_iteration()

    def dying_save(obj, path):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt  # killed mid-write

    monkeypatch.setattr(ckpt_io.torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        tr.save()
    assert ckpt_io.list_checkpoints(run) == [good]
    assert not [f for f in os.listdir(os.path.dirname(good)) if ".tmp" in f]
    assert ckpt_io.load_checkpoint(good)["iteration"] == 1


def test_bad_checkpoints_are_named_clearly(tiny_data, tmp_path):
    with pytest.raises(UserError, match="not found"):
        ckpt_io.load_checkpoint(str(tmp_path / "missing.pt"))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(300))
    with pytest.raises(UserError, match="corrupt or truncated"):
        ckpt_io.load_checkpoint(str(junk))
    other = tmp_path / "other.pt"
    torch.save({"G": {}}, other)
    with pytest.raises(UserError, match="not a CoDeGAN checkpoint"):
        ckpt_io.load_checkpoint(str(other))
    run = Trainer(config(tiny_data, tmp_path / "r", max_iters=1), MNIST_DIR).run()
    real = ckpt_io.list_checkpoints(run)[-1]
    cut = tmp_path / "cut.pt"
    cut.write_bytes(open(real, "rb").read()[:5000])
    with pytest.raises(UserError, match="corrupt or truncated"):
        ckpt_io.load_checkpoint(str(cut))


def test_checkpoint_of_another_dataset_is_refused(tmp_path):
    root = make_tiny_mnist(tmp_path / "data")
    make_tiny_mnist(tmp_path / "data", name="fashion_mnist.npz")
    fdir = os.path.join(REPO, "Fashion-MNIST")
    run = Trainer(config(root, tmp_path / "f", folder=fdir, max_iters=1), fdir).run()
    ck = ckpt_io.list_checkpoints(run)[-1]
    with pytest.raises(UserError, match="fashion_mnist checkpoint"):
        Trainer(config(root, tmp_path / "m"), MNIST_DIR, resume=ck)
    with pytest.raises(SystemExit) as e:
        cli.test_main(MNIST_DIR, [f"--checkpoint={ck}", f"--data_root={root}"])
    assert e.value.code == 2


def test_resume_refuses_changing_what_is_computed(tiny_data, tmp_path, capsys):
    with pytest.raises(SystemExit):
        train_main(MNIST_DIR, ["--resume=whatever.pt", "--beta_1=3"])
    assert "cannot change when resuming" in capsys.readouterr().err


def test_missing_data_says_which_file_where(tmp_path, monkeypatch):
    import codegan.data.datasets as data

    # no network here: make the torchvision fallback fail the way it does offline
    monkeypatch.setattr(data, "_torchvision_split", lambda *a: (None, "no network"))
    with pytest.raises(UserError) as e:
        Trainer(config(str(tmp_path / "empty"), tmp_path), MNIST_DIR)
    msg = str(e.value)
    assert "mnist.npz" in msg and str(tmp_path / "empty") in msg and "CODEGAN_DATA" in msg


def test_cli_errors_are_one_line_without_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": REPO}
    for argv, words in ((["--beta1=3"], ["beta_1"]),
                        (["--g_batch_size=0"], ["g_batch_size", "> 0"]),
                        (["--resume=" + str(tmp_path / "no.pt")], ["not found"])):
        p = subprocess.run([sys.executable, "train.py", *argv, f"--out={tmp_path}"],
                           cwd=MNIST_DIR, capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 2
        assert "Traceback" not in p.stderr and p.stderr.startswith("error: ")
        for w in words:
            assert w in p.stderr
    assert not os.listdir(tmp_path)  # nothing written before the settings were checked
