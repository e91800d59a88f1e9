"""The README's mode recipe runs as written: every command of the Fashion-MNIST block, in order,
in a copy of the folder, on tiny synthetic data at a two-iteration budget (the only change: the
tiny settings appended to each command)."""

import os
import re
import runpy
import shlex
import shutil
import sys

from modes_util import FASHION, REPO, TINY, make_tiny


def recipe(name):
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    block = re.search(rf"<!-- recipe:{name} -->\n```bash\n(.*?)```", text, re.S)
    assert block, f"README has no recipe block '{name}'"
    return [shlex.split(line.split("#")[0]) for line in block.group(1).splitlines()
            if line.split("#")[0].strip()]


def test_fashion_mnist_recipe_runs_as_written(tmp_path, monkeypatch):
    folder = tmp_path / "Fashion-MNIST"
    folder.mkdir()
    for f in os.listdir(FASHION):
        if f.endswith((".py", ".yml")):
            shutil.copy(os.path.join(FASHION, f), folder)
    data = make_tiny(tmp_path / "data")
    tiny = [f"--{k}={v}" for k, v in TINY.items()] + [f"--data_root={data}"]
    monkeypatch.chdir(folder)
    commands = recipe("fashion-mnist")
    assert len(commands) == 7
    for cmd in commands:
        assert cmd[0] == "python" and os.path.isfile(cmd[1]), cmd
        monkeypatch.setattr(sys, "argv", cmd[1:] + tiny)
        runpy.run_path(str(folder / cmd[1]), run_name="__main__")
    runs = sorted(os.listdir(folder / "runs"))
    assert runs == ["00000-fashion_mnist-unsupervised", "00001-fashion_mnist-self",
                    "00002-fashion_mnist-labels", "00003-fashion_mnist-labels-meta",
                    "00004-fashion_mnist-labels-self"]
    # the pre-trained and meta modes' G and D started from the unsupervised run's last checkpoint
    ckpt = os.path.join(runs[0], "checkpoints", "ckpt-00000002.pt")
    for run in runs[1:]:
        with open(folder / "runs" / run / "log.txt") as f:
            started = [line for line in f if "G and D start from" in line]
        if run == "00002-fashion_mnist-labels":
            assert not started
        else:
            assert len(started) == 1 and ckpt in started[0], (run, started)
    assert os.path.isfile(folder / "pretrained" / "E_c_simclr.pt")
    assert os.path.isfile(folder / "pretrained" / "E_c_maml.pt")
