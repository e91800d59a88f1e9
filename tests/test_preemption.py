"""Runs on shared clusters: SIGTERM stops a run with a checkpoint and a distinct exit status,
``--resume=auto`` continues it (and equals an uninterrupted run), a diverging run stops at once
without writing non-finite checkpoints, and a failed save keeps the previous checkpoint."""

import errno
import os
import signal

import pytest
import torch

from codegan import checkpoint as ckpt_io
from codegan.errors import UserError
from codegan.training import cli
from codegan.training.cli import EXIT_PREEMPTED, train_main
from codegan.training.loop import Trainer
from codegan.training.runs import list_runs
from conftest import REPO, TINY

MNIST_DIR = os.path.join(REPO, "MNIST")


def argv(data, out, **over):
    return [f"--{k}={v}" for k, v in {**TINY, "data_root": data, "out": out, **over}.items()]


def trainer(data, out, **over):
    """A Trainer of MNIST's settings on the tiny data, ``over`` on top."""
    return Trainer(cli.load_config(os.path.join(MNIST_DIR, "param.yml"),
                                   {**TINY, "data_root": data, "out": str(out), **over}),
                   MNIST_DIR)


def final_state(out):
    return torch.load(ckpt_io.list_checkpoints(list_runs(out)[-1])[-1], weights_only=True)


def kill_at(monkeypatch, iteration, sig=signal.SIGTERM):
    """Send ``sig`` to this process during iteration ``iteration`` (as the cluster would)."""
    step = Trainer.train_iteration

    def train_iteration(self):
        out = step(self)
        if self.iteration == iteration:
            os.kill(os.getpid(), sig)
        return out

    monkeypatch.setattr(Trainer, "train_iteration", train_iteration)


@pytest.mark.parametrize("method", ["codegan", "infogan-cr"])
def test_sigterm_checkpoints_then_resume_auto_equals_uninterrupted(method, tiny_data, tmp_path,
                                                                   monkeypatch, capsys):
    full = str(tmp_path / "full")
    train_main(MNIST_DIR, argv(tiny_data, full, method=method, max_iters=7))
    out = str(tmp_path / "pre")
    with monkeypatch.context() as m:
        kill_at(m, 3)
        with pytest.raises(SystemExit) as e:
            train_main(MNIST_DIR, argv(tiny_data, out, method=method, max_iters=7))
    assert e.value.code == EXIT_PREEMPTED
    assert "stopped by SIGTERM" in capsys.readouterr().err
    assert [os.path.basename(c) for c in ckpt_io.list_checkpoints(list_runs(out)[0])] == \
        ["ckpt-00000003.pt"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers put back
    # the requeued job: the same command line with --resume=auto
    train_main(MNIST_DIR, argv(tiny_data, out, method=method, max_iters=7, resume="auto"))
    assert "--resume=auto: continuing" in capsys.readouterr().out
    a, b = final_state(full), final_state(out)
    assert b["iteration"] == 7 and b["config"]["resume"].endswith("ckpt-00000003.pt")
    for k, v in a["nets"].items():
        assert torch.equal(v, b["nets"][k]), k


def test_resume_auto_starts_fresh_and_ignores_runs_of_other_settings(tiny_data, tmp_path,
                                                                     capsys):
    out = str(tmp_path / "runs")
    train_main(MNIST_DIR, argv(tiny_data, out, resume="auto"))
    assert "no checkpoint of these settings yet" in capsys.readouterr().out
    # another seed is another run: a fresh start, not a continuation of seed 0
    train_main(MNIST_DIR, argv(tiny_data, out, seed=1, resume="auto"))
    assert "starting a new run" in capsys.readouterr().out
    # a longer budget of the same settings continues the newest matching run
    train_main(MNIST_DIR, argv(tiny_data, out, max_iters=3, resume="auto"))
    assert f"continuing {ckpt_io.list_checkpoints(list_runs(out)[0])[-1]}" in \
        capsys.readouterr().out
    assert final_state(out)["iteration"] == 3 and final_state(out)["config"]["seed"] == 0


def test_a_diverging_run_stops_at_once_and_keeps_only_finite_checkpoints(tiny_data, tmp_path,
                                                                        monkeypatch):
    step = Trainer.train_iteration

    def poisoned(self):
        out = step(self)
        if self.iteration == 3:  # what an exploding step leaves behind
            with torch.no_grad():
                next(self.nets.D.parameters()).fill_(float("nan"))
            out = {**out, "D/loss": torch.tensor(float("nan"))}
        return out

    monkeypatch.setattr(Trainer, "train_iteration", poisoned)
    out = tmp_path / "runs"
    with pytest.raises(UserError) as e:
        trainer(tiny_data, out, max_iters=6, save_iters=2).run()
    msg = str(e.value)
    ckpts = ckpt_io.list_checkpoints(list_runs(str(out))[0])
    assert "the loss D/loss is nan at iteration 3" in msg and ckpts[-1] in msg
    assert [os.path.basename(c) for c in ckpts] == ["ckpt-00000002.pt"]
    state = torch.load(ckpts[0], weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["nets"].values() if v.is_floating_point())
    with open(os.path.join(list_runs(str(out))[0], "log.txt")) as f:
        assert "error: the run diverged" in f.read()


def test_non_finite_weights_are_never_saved(tiny_data, tmp_path):
    tr = trainer(tiny_data, tmp_path, finite_check_every=0)
    tr.run_dir = str(tmp_path / "run")
    os.makedirs(os.path.join(tr.run_dir, "checkpoints"))
    with torch.no_grad():
        next(tr.nets.G.parameters())[0] = float("inf")
    with pytest.raises(UserError, match=r"the weight G\.\S+ is not finite at iteration 0"):
        tr.save()
    assert ckpt_io.list_checkpoints(tr.run_dir) == []


def test_a_failed_save_stops_with_a_message_and_keeps_the_previous_checkpoint(
        tiny_data, tmp_path, monkeypatch):
    real_save = torch.save
    calls = []

    def disk_full_second_time(obj, path, *a, **k):
        calls.append(path)
        if len(calls) == 2:
            with open(path, "wb") as f:  # a partial file, then the disk is full
                f.write(b"PK")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, path, *a, **k)

    monkeypatch.setattr(torch, "save", disk_full_second_time)
    out = tmp_path / "runs"
    with pytest.raises(UserError) as e:
        trainer(tiny_data, out, max_iters=4, save_iters=2).run()
    run = list_runs(str(out))[0]
    first = os.path.join(run, "checkpoints", "ckpt-00000002.pt")
    assert "No space left on device" in str(e.value) and f"intact: {first}" in str(e.value)
    assert os.listdir(os.path.join(run, "checkpoints")) == ["ckpt-00000002.pt"]  # no .tmp
    assert ckpt_io.load_checkpoint(first)["iteration"] == 2


def test_rollback_goes_back_to_the_last_checkpoint_with_lower_learning_rates(
        tiny_data, tmp_path, monkeypatch):
    step = Trainer.train_iteration
    poisoned_once = []

    def poisoned(self):
        out = step(self)
        if self.iteration == 3 and not poisoned_once:
            poisoned_once.append(True)
            out = {**out, "D/loss": torch.tensor(float("inf"))}
        return out

    monkeypatch.setattr(Trainer, "train_iteration", poisoned)
    tr = trainer(tiny_data, tmp_path, max_iters=5, save_iters=2, rollback_on_divergence=1)
    run = tr.run()
    assert tr.rollbacks == 1 and tr.iteration == 5
    with open(os.path.join(run, "log.txt")) as f:
        log = f.read()
    assert "rollback 1/1: the loss D/loss is inf" in log and "(iteration 2)" in log
    state = torch.load(ckpt_io.list_checkpoints(run)[-1], weights_only=True)
    assert state["iteration"] == 5
    for opt in state["optim"].values():
        for group in opt["param_groups"]:
            assert group["lr"] == pytest.approx(1e-4 * 0.5)
