"""``python train.py --seeds=0,1,2 --jobs=N``: one run per seed, in parallel processes or one
after the other with the same results, and a summary of the final metrics over seeds."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from codegan import checkpoint as ckpt_io
from codegan.errors import UserError
from codegan.evaluation.plots import read_metrics
from codegan.training.cli import train_main
from codegan.training.seeds import parse_seeds
from conftest import REPO, TINY

MNIST_DIR = os.path.join(REPO, "MNIST")


@contextlib.contextmanager
def process_group(cmd):
    """``train.py`` in a process group of its own, as a terminal or a cluster starts it; the
    whole group is killed on the way out, so a test that fails leaves no run training."""
    p = subprocess.Popen(cmd, cwd=MNIST_DIR, start_new_session=True, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": REPO})
    try:
        yield p
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)  # the workers too, should the parent be gone
        except ProcessLookupError:
            pass
        p.wait()


def argv(data, out, **over):
    return [f"--{k}={v}" for k, v in {**TINY, "data_root": data, "out": out,
                                        "num_threads": 1, **over}.items()]


def test_parallel_seeds_equal_the_same_seeds_one_at_a_time_and_are_summarised(tiny_data,
                                                                               tmp_path):
    seq = train_main(MNIST_DIR, [*argv(tiny_data, str(tmp_path / "seq")), "--seeds=0,1"])
    par = train_main(MNIST_DIR, [*argv(tiny_data, str(tmp_path / "par")), "--seeds=0,1",
                                 "--jobs=2"])
    assert [os.path.basename(r)[6:] for r in par] == ["mnist-unsupervised"] * 2
    states = []
    for a, b, seed in zip(seq, par, (0, 1)):
        sa, sb = (torch.load(ckpt_io.list_checkpoints(r)[-1], weights_only=True) for r in (a, b))
        assert sa["config"]["seed"] == sb["config"]["seed"] == seed
        for k, v in sa["nets"].items():
            assert torch.equal(v, sb["nets"][k]), (seed, k)
        states.append(sa)
    assert any(not torch.equal(states[0]["nets"][k], states[1]["nets"][k])
               for k in states[0]["nets"])  # two seeds, two runs
    # the summary: mean and sample std over the seeds' final records
    summary = os.path.join(str(tmp_path / "par"), f"summary-{os.path.basename(par[0])}.json")
    with open(summary) as f:
        stats = json.load(f)["stats"]
    nmi = [read_metrics(r)[-1]["nmi"] for r in par]
    assert stats["nmi"]["n"] == 2
    assert stats["nmi"]["mean"] == pytest.approx(np.mean(nmi))
    assert stats["nmi"]["std"] == pytest.approx(np.std(nmi, ddof=1))
    assert os.path.isfile(summary[:-5] + ".md")


def test_seed_options_are_checked(tiny_data, tmp_path):
    assert parse_seeds("0,1, 2") == [0, 1, 2] and parse_seeds([3, 4]) == [3, 4]
    for bad in ("", "0,0", "-1", "a,b"):
        with pytest.raises(UserError, match="distinct whole numbers"):
            parse_seeds(bad)
    raw = getattr(train_main, "__wrapped__")
    with pytest.raises(UserError, match="--seed cannot go with --seeds"):
        raw(MNIST_DIR, [*argv(tiny_data, str(tmp_path)), "--seeds=0,1", "--seed=3"])
    with pytest.raises(UserError, match="--jobs goes with --seeds"):
        raw(MNIST_DIR, [*argv(tiny_data, str(tmp_path)), "--jobs=2"])
    with pytest.raises(UserError, match="beta_1"):  # bad settings stop before any run
        raw(MNIST_DIR, [*argv(tiny_data, str(tmp_path)), "--seeds=0,1", "--beta_1=-1"])
    assert not os.path.isdir(tmp_path / "00000-mnist-unsupervised")


def test_sigterm_to_parallel_seeds_checkpoints_every_run_and_exits_143(tiny_data, tmp_path):
    """What a cluster does to a job of parallel seeds: SIGTERM to the whole process group."""
    from codegan.training.runs import list_runs

    out = str(tmp_path / "runs")
    cmd = [sys.executable, "train.py", *argv(tiny_data, out, max_iters=100000),
           "--seeds=0,1", "--jobs=2"]
    with process_group(cmd) as p:
        deadline = time.time() + 240
        while time.time() < deadline and len(list_runs(out)) < 2 and p.poll() is None:
            time.sleep(1)  # until both runs are training
        time.sleep(3)
        os.killpg(p.pid, signal.SIGTERM)
        _, err = p.communicate(timeout=240)
    assert p.returncode == 143, err[-2000:]
    runs = list_runs(out)
    assert len(runs) == 2 and all(ckpt_io.list_checkpoints(r) for r in runs)
    line = err.strip().splitlines()[-1]  # each seed's state and how to continue it alone
    assert line.startswith("stopped by SIGTERM, without the seeds' summary: seed 0 stopped at "
                           "iteration ") and line.endswith(GO_ON), line


def test_a_second_ctrl_c_under_seeds_names_the_seed_and_how_to_continue_it(tiny_data, tmp_path,
                                                                           monkeypatch, capsys):
    """Seeds one after the other, aborted in the second seed's run: exit 130 and one line that
    names that seed, the finished one and the aborted run's last checkpoint, with how to continue
    it (--resume cannot go with --seeds); no summary, no traceback."""
    from codegan.training.loop import Trainer

    step = Trainer.train_iteration

    def aborted(self):
        if self.cfg.seed == 1 and self.iteration == 2:
            raise KeyboardInterrupt  # what the handler raises on the second signal
        return step(self)

    monkeypatch.setattr(Trainer, "train_iteration", aborted)
    with pytest.raises(SystemExit) as e:
        train_main(MNIST_DIR, argv(tiny_data, tmp_path, seeds="0,1", save_iters=1,
                                          max_iters=4))
    assert e.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    second = sorted(d for d in os.listdir(tmp_path) if os.path.isdir(tmp_path / d))[1]
    last = ckpt_io.list_checkpoints(str(tmp_path / second))[-1]
    assert err == [f"stopped by Ctrl-C, without the seeds' summary: seed 0 finished; seed 1 "
                   f"aborted at iteration 2 without its final evaluation (last checkpoint "
                   f"{last}). {GO_ON}"]
    assert ckpt_io.load_checkpoint(last)["iteration"] == 2
    assert not [f for f in os.listdir(tmp_path) if f.startswith("summary")]


def test_an_aborted_run_comes_back_from_a_worker_process_whole():
    """--jobs hands a run's RunAborted from its worker to the parent by pickling it."""
    import pickle

    from codegan.training.train import RunAborted

    e = RunAborted(None)
    e.built, e.main, e.iteration, e.checkpoint = True, True, 7, "runs/x/ckpt-00000007.pt"
    back = pickle.loads(pickle.dumps(e))
    assert isinstance(back, RunAborted)
    assert (back.built, back.main, back.iteration, back.checkpoint) == \
        (True, True, 7, "runs/x/ckpt-00000007.pt")
    assert back.message == e.message and "iteration 7" in back.message


GO_ON = ("Continue a stopped or aborted run alone with --seed=k --resume=auto in place of "
         "--seeds, and start a seed not started with --seed=k; the --seeds command run again "
         "starts every run anew.")


@pytest.mark.parametrize("sig, by, code", [(signal.SIGINT, "Ctrl-C", 130),
                                           (signal.SIGTERM, "SIGTERM", 143)])
def test_a_first_ctrl_c_or_sigterm_under_seeds_stops_there_and_starts_no_further_seed(
        sig, by, code, tiny_data, tmp_path, monkeypatch, capsys):
    """One after the other: the run under way stops after its final evaluation and checkpoint,
    as a run alone does, and the seeds after it are not started (after Ctrl-C they used to
    start; after SIGTERM the line said --resume=auto without --seed=k, which --seeds refuses)."""
    from codegan.training.loop import Trainer
    from codegan.training.runs import list_runs

    step = Trainer.train_iteration

    def signalled(self):
        out = step(self)
        if self.iteration == 2:
            os.kill(os.getpid(), sig)
        return out

    monkeypatch.setattr(Trainer, "train_iteration", signalled)
    with pytest.raises(SystemExit) as e:
        train_main(MNIST_DIR, argv(tiny_data, tmp_path, seeds="0,1", max_iters=5))
    assert e.value.code == code
    runs = list_runs(str(tmp_path))
    assert len(runs) == 1  # seed 1 not started
    last = ckpt_io.list_checkpoints(runs[0])[-1]
    assert ckpt_io.load_checkpoint(last)["iteration"] == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"stopped by {by}, without the seeds' summary: seed 0 stopped at iteration "
                   f"2 after its final evaluation ({last}); seed 1 not started. {GO_ON}")
    assert not [f for f in os.listdir(tmp_path) if f.startswith("summary")]


def test_ctrl_c_to_parallel_seeds_stops_every_run_with_a_checkpoint_and_starts_no_more(
        tiny_data, tmp_path):
    """--jobs=2 over three seeds, Ctrl-C to the process group (what the terminal does) while
    the first two train: both stop after their final evaluation and checkpoint, the third is
    not started, and the parent says so in one line (it used to print a KeyboardInterrupt
    traceback, and the pool went on to start the third seed)."""
    from codegan.training.runs import list_runs, run_end

    out = str(tmp_path / "runs")
    cmd = [sys.executable, "train.py", *argv(tiny_data, out, max_iters=100000),
           "--seeds=0,1,2", "--jobs=2"]
    with process_group(cmd) as p:
        deadline = time.time() + 240
        while time.time() < deadline and p.poll() is None and not (
                len(list_runs(out)) == 2 and all(
                    os.path.isfile(os.path.join(r, "metrics.jsonl")) for r in list_runs(out))):
            time.sleep(1)  # until both runs are training
        time.sleep(3)
        os.killpg(p.pid, signal.SIGINT)
        _, err = p.communicate(timeout=240)
    assert p.returncode == 130, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    runs = list_runs(out)
    assert len(runs) == 2  # seed 2 not started
    line = err.strip().splitlines()[-1]
    seeds = []
    for r in runs:  # the two workers number their folders in whichever order they start
        last = ckpt_io.list_checkpoints(r)[-1]
        seeds.append(seed := ckpt_io.load_checkpoint(last)["config"]["seed"])
        end = run_end(r)
        assert end["interrupted"] and end["stopped_by"] == "SIGINT"
        assert (f"seed {seed} stopped at iteration {end['iteration']} after its final "
                f"evaluation ({last})") in line, line
    assert sorted(seeds) == [0, 1]
    assert line.endswith(f"; seed 2 not started. {GO_ON}"), line
    assert not [f for f in os.listdir(out) if f.startswith("summary")]
