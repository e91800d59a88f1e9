"""The mode recipes (docs/modes.md, linked from the README) run as written: every command of
the Fashion-MNIST and CIFAR-10 blocks, in order, in a copy of the folder, on tiny data at a
two-iteration budget (the only change: the tiny settings appended to each command)."""

import os
import re
import runpy
import shlex
import shutil
import sys

import pytest
from extra_fixtures import have_shared, real_cifar_subset
from modes_util import REPO, TINY, make_tiny

TINY_SEPARATE = {"ec_batch_size": 4, "ez_batch_size": 4}


def recipe(name):
    with open(os.path.join(REPO, "docs", "modes.md")) as f:
        text = f.read()
    block = re.search(rf"<!-- recipe:{name} -->\n```bash\n(.*?)```", text, re.S)
    assert block, f"docs/modes.md has no recipe block '{name}'"
    return [shlex.split(line.split("#")[0]) for line in block.group(1).splitlines()
            if line.split("#")[0].strip()]


@pytest.mark.parametrize("folder,dataset", [("Fashion-MNIST", "fashion_mnist"),
                                            ("CIFAR-10", "cifar10")])
def test_recipe_runs_as_written(tmp_path, monkeypatch, folder, dataset):
    if dataset == "cifar10" and not have_shared("cifar10.npz"):
        pytest.skip("no shared cifar10.npz")
    work = tmp_path / folder
    work.mkdir()
    for f in os.listdir(os.path.join(REPO, folder)):
        if f.endswith((".py", ".yml")):
            shutil.copy(os.path.join(REPO, folder, f), work)
    data = (make_tiny(tmp_path / "data") if dataset == "fashion_mnist"
            else real_cifar_subset(tmp_path / "data"))
    tiny = [f"--{k}={v}" for k, v in {**TINY, **TINY_SEPARATE}.items()] + [f"--data_root={data}"]
    monkeypatch.chdir(work)
    commands = recipe(folder.lower())
    assert len(commands) == 7
    for cmd in commands:
        assert cmd[0] == "python" and os.path.isfile(cmd[1]), cmd
        monkeypatch.setattr(sys, "argv", cmd[1:] + tiny)
        runpy.run_path(str(work / cmd[1]), run_name="__main__")
    runs = sorted(os.listdir(work / "runs"))
    assert runs == [f"0000{i}-{dataset}-{m}" for i, m in
                    enumerate(["unsupervised", "self", "labels", "labels-meta", "labels-self"])]
    # the modes that officially load pre-trained G and D started from the unsupervised run's
    # last checkpoint; the others from random weights
    ckpt = os.path.join(runs[0], "checkpoints", "ckpt-00000002.pt")
    loads = {"labels-meta", "labels-self"} | ({"self"} if dataset == "fashion_mnist" else set())
    for run in runs[1:]:
        with open(work / "runs" / run / "log.txt") as f:
            started = [line for line in f if "G and D start from" in line]
        if run.split("-", 2)[2] in loads:
            assert len(started) == 1 and ckpt in started[0], (run, started)
        else:
            assert not started, run
    assert os.path.isfile(work / "pretrained" / "E_c_simclr.pt")
    assert os.path.isfile(work / "pretrained" / "E_c_maml.pt")
