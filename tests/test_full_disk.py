"""A disk that fills up (or a folder that cannot be written) stops a command with one message
naming the file, the cause, the fix and the last good checkpoint, never a traceback; what was
written before survives (``codegan.errors.write_file`` / ``append_file``).

Provoked two ways: writers that fail after a few bytes (OSError ENOSPC from a file object, the
RuntimeError torch.save raises from its zip writer) for a checkpoint, the metrics records, a
sample grid and the comparison's files; and a real small tmpfs under a real training run."""

import builtins
import errno
import glob
import io
import json
import os
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

from codegan import checkpoint as ckpt_io
from codegan import compare
from codegan.errors import UserError
from codegan.evaluation import fakes
from codegan.training import cli
from codegan.training.loop import Trainer
from codegan.training.runs import list_runs
from conftest import REPO, TINY, make_tiny_mnist

MNIST_DIR = os.path.join(REPO, "MNIST")
# what torch 2.x raises when its writer hits a full disk (torch.save to a path)
TORCH_FULL = "[enforce fail at inline_container.cc:672] . unexpected pos 202752 vs 202648"


class FullFile:
    """A file object that takes ``budget`` bytes, then fails as a full disk does (no fileno:
    PIL and others write through ``write``)."""

    def __init__(self, f, budget):
        self.f, self.budget = f, budget

    def write(self, data):
        if len(data) > self.budget:
            self.f.write(data[:self.budget])
            self.f.flush()
            self.budget = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.budget -= len(data)
        return self.f.write(data)

    def fileno(self):
        raise io.UnsupportedOperation("fileno")

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def disk_full_for(monkeypatch, name, armed=lambda: True, budget=10):
    """Files whose name contains ``name`` take ``budget`` bytes and then fail with ENOSPC,
    while ``armed()``."""
    real_open = builtins.open

    def fake_open(file, mode="r", *a, **k):
        f = real_open(file, mode, *a, **k)
        if isinstance(file, (str, os.PathLike)) and name in os.fspath(file) and \
                any(m in mode for m in "wax") and armed():
            return FullFile(f, budget)
        return f

    monkeypatch.setattr(builtins, "open", fake_open)


def no_temp_files(folder):
    return [p for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
            if ".tmp" in os.path.basename(p)] == []


@pytest.mark.parametrize("target", ["checkpoint", "metrics", "grid"])
def test_a_failed_write_stops_with_one_message_and_the_previous_checkpoint_intact(
        target, tiny_data, tmp_path, monkeypatch):
    out = tmp_path / "runs"
    ckpt1 = lambda: glob.glob(str(out / "*" / "checkpoints" / "ckpt-00000001.pt"))  # noqa: E731
    if target == "checkpoint":  # torch.save's own error: a RuntimeError, not an OSError
        real_save = torch.save

        def save(obj, path, *a, **k):
            if os.path.basename(path).endswith("ckpt-00000002.pt"):
                with open(path, "wb") as f:
                    f.write(b"PK\x03\x04 part of a checkpoint")
                raise RuntimeError(TORCH_FULL)
            return real_save(obj, path, *a, **k)

        monkeypatch.setattr(ckpt_io.torch, "save", save)
        failing, cause = "ckpt-00000002.pt", "torch's file writer failed"
    else:
        failing = {"metrics": "metrics.jsonl", "grid": "grid-00000002.png"}[target]
        disk_full_for(monkeypatch, failing, armed=lambda: bool(ckpt1()))
        cause = "the disk is full (No space left on device)"
    tr = Trainer(cli.load_config(os.path.join(MNIST_DIR, "param.yml"),
                                 {**TINY, "data_root": tiny_data, "out": str(out),
                                  "save_iters": 1, "test_iters": 1}), MNIST_DIR)
    with pytest.raises(UserError) as e:
        tr.run()
    run = list_runs(str(out))[0]
    good = os.path.join(run, "checkpoints", "ckpt-00000001.pt")
    msg = str(e.value)
    assert msg.startswith(f"could not write {os.path.join(run)}") and failing in msg, msg
    assert cause in msg and f"the previous checkpoint is intact: {good}" in msg, msg
    assert "choose another --out" in msg and f"--resume={good}" in msg, msg
    assert os.listdir(os.path.join(run, "checkpoints")) == ["ckpt-00000001.pt"]
    assert ckpt_io.load_checkpoint(good)["iteration"] == 1
    assert no_temp_files(run)
    with open(os.path.join(run, "metrics.jsonl")) as f:  # the first record, no half line
        lines = f.read().splitlines()
    assert [json.loads(ln)["iteration"] for ln in lines] == ([1, 2] if target == "checkpoint" else [1])
    grids = sorted(os.listdir(os.path.join(run, "samples")))
    assert grids == (["grid-00000001.png"] if target == "grid" else
                     ["grid-00000001.png", "grid-00000002.png"])


def test_the_comparison_keeps_its_manifest_when_the_disk_is_full(tmp_path, monkeypatch):
    req = types.SimpleNamespace(out=str(tmp_path))
    compare.save_manifest(req, {"max_iters": 10})
    before = (tmp_path / compare.MANIFEST).read_text()
    disk_full_for(monkeypatch, compare.MANIFEST)
    with pytest.raises(UserError) as e:
        compare.save_manifest(req, {"max_iters": 20, "settings": {"x": "y" * 1000}})
    path = str(tmp_path / compare.MANIFEST)
    assert str(e.value).startswith(f"could not write {path}: the disk is full"), str(e.value)
    assert "choose another --out" in str(e.value)
    assert (tmp_path / compare.MANIFEST).read_text() == before  # the old one, whole
    assert os.listdir(tmp_path) == [compare.MANIFEST]


def test_fakes_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    path = str(tmp_path / "fakes.npy")
    disk_full_for(monkeypatch, "fakes.npy", budget=100)
    images = np.zeros((4, 8, 8, 1), np.uint8)
    with pytest.raises(UserError, match=r"could not write .*fakes\.npy: the disk is full"):
        fakes.save_fakes(path, images, np.zeros(4, np.int64))
    assert os.listdir(tmp_path) == []  # no part file under the name np.load would read


# -- a real full disk ------------------------------------------------------------------------------
@pytest.fixture
def small_tmpfs(tmp_path):
    """A 3 MB tmpfs: the run folder, log, metrics and grid fit, MNIST's first checkpoint (196 MB)
    does not. Skips where this process may not mount one (not root, or a sandbox that forbids
    it)."""
    where = tmp_path / "small"
    where.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield str(where)
    subprocess.run(["umount", str(where)], check=False)


def test_training_onto_a_full_tmpfs_prints_one_message_and_no_traceback(small_tmpfs, tmp_path):
    data = make_tiny_mnist(tmp_path / "data")
    args = {**TINY, "data_root": data, "out": small_tmpfs}
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "train.py", *[f"--{k}={v}" for k, v in args.items()]],
                       cwd=MNIST_DIR, env=env, capture_output=True, text=True, timeout=300)
    run = list_runs(small_tmpfs)[0]
    err = r.stderr.strip().splitlines()
    assert r.returncode == 2 and "Traceback" not in r.stdout + r.stderr, r.stderr
    assert err == [f"error: could not write {run}/checkpoints/ckpt-00000002.pt: the disk is full "
                   f"(torch: {err[0].split('(torch: ')[1].split(')')[0]}). Nothing written "
                   f"before it was lost; no checkpoint was written yet. Free space on that disk "
                   f"or choose another --out, then start the run again."], r.stderr
    assert os.listdir(os.path.join(run, "checkpoints")) == []
    assert os.listdir(os.path.join(run, "samples")) == ["grid-00000002.png"]
    assert no_temp_files(run)


def test_the_labelled_list_is_written_whole_and_never_replaced(tmp_path, monkeypatch):
    from codegan.data.fewlabel import save_indices

    path = str(tmp_path / "labelled_indices.json")
    labels = torch.arange(50) % 10
    disk_full_for(monkeypatch, "labelled_indices.json")
    with pytest.raises(UserError, match=r"could not write .*labelled_indices\.json: the disk"):
        save_indices(path, torch.arange(20), labels)
    assert os.listdir(tmp_path) == []  # no part file a later run would read as the list
    monkeypatch.undo()
    save_indices(path, torch.arange(20), labels)
    with pytest.raises(FileExistsError):
        save_indices(path, torch.arange(10), labels)
    assert json.loads(open(path).read())["indices"] == list(range(20))


def test_pretraining_weights_are_written_whole(tmp_path, monkeypatch):
    from codegan.pretraining.encoder_loop import atomic_save

    path = str(tmp_path / "E_c_simclr.pt")
    atomic_save({"v": 1}, path, "--pretrain_path")
    real_save = torch.save

    def save(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04 part of a file")
        raise RuntimeError(TORCH_FULL)

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(UserError, match=r"E_c_simclr\.pt: torch's file writer failed") as e:
        atomic_save({"v": 2}, path, "--pretrain_path")
    assert "--pretrain_path" in str(e.value)
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.load(path)["v"] == 1 and os.listdir(tmp_path) == ["E_c_simclr.pt"]


def test_numpys_errorless_short_write_is_a_full_disk_only_when_the_disk_is_full(tmp_path,
                                                                                monkeypatch):
    """np.save to a path writes with ndarray.tofile, which on a full disk raises an OSError
    without errno ('1600 requested and 992 written'): a full disk when the disk says so."""
    from codegan.errors import write_failure

    e = OSError("1600 requested and 992 written")
    path = str(tmp_path / "part.npy")
    free = {"blocks": 3}
    monkeypatch.setattr(os, "statvfs", lambda p: types.SimpleNamespace(
        f_bavail=free["blocks"], f_frsize=4096))
    assert write_failure(e, path) == ("the disk is full (1600 requested and 992 written)",
                                      "free space on that disk")
    free["blocks"] = 1 << 20  # 4 GiB free: some other fault, raised as it is
    assert write_failure(e, path) is None
