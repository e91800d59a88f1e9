"""bench/official_curves.py: its refusals, the table of its plot (known answers from written
records), a one-epoch run of ours on real MNIST (when the shared data is there), and, when
CODEGAN_OFFICIAL names a checkout of the official code at 348d046, the same for the official."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from extra_fixtures import SHARED, have_shared

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "bench", "official_curves.py")


def run_script(*args, timeout=600):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=timeout)


def assert_refused(res, *words):
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_refuses_a_missing_official_checkout(tmp_path):
    assert_refused(run_script("--code=official", f"--official={tmp_path / 'nope'}",
                              f"--data-root={tmp_path}"), "is not a folder", "git clone")


def test_refuses_a_data_root_without_the_dataset(tmp_path):
    assert_refused(run_script("--code=ours", "--folder=MNIST", f"--data-root={tmp_path}"),
                   "mnist.npz not found", "--data-root")


def test_refuses_a_negative_budget(tmp_path):
    assert_refused(run_script("--code=ours", "--epochs=-1", f"--data-root={tmp_path}"),
                   "--epochs >= 0")
    assert_refused(run_script("--code=ours", "--limit=0", f"--data-root={tmp_path}"),
                   "--limit >= 1")
    assert_refused(run_script("--code=ours", "--fakes=-1", f"--data-root={tmp_path}"),
                   "--fakes >= 0")


def write_run(root, code, seed, values):
    d = root / f"MNIST-{code}-s{seed}"
    d.mkdir(parents=True)
    with open(d / "metrics.jsonl", "w") as f:
        for e, v in enumerate(values, 1):
            rec = {"epoch": e, "iteration": 937 * e, "code": code, "seed": seed}
            for m in ("acc_purity", "nmi", "ari"):
                rec[f"{m}_best_of_runs"] = v
            f.write(json.dumps(rec) + "\n")


def test_plot_table_gives_mean_std_and_range_over_seeds(tmp_path):
    write_run(tmp_path, "official", 0, [0.5, 0.6])
    write_run(tmp_path, "official", 1, [0.7, 0.8])
    write_run(tmp_path, "ours", 0, [0.4, 0.4])
    res = run_script("--plot", "--folder=MNIST", f"--out={tmp_path}")
    assert res.returncode == 0, res.stderr
    table = (tmp_path / "MNIST-table.md").read_text().splitlines()
    # official epoch 1: seeds 0.5 and 0.7 -> mean 0.6, population std 0.1, range 0.5-0.7
    assert "| official | 0,1 | 1 | 937 | 0.600 ± 0.100; 0.500-0.700 |" in "\n".join(table)
    assert "| official | 0,1 | 2 | 1874 | 0.700 ± 0.100; 0.600-0.800 |" in "\n".join(table)
    assert "| ours | 0 | 2 | 1874 | 0.400 ± 0.000; 0.400-0.400 |" in "\n".join(table)
    assert (tmp_path / "MNIST-curves.png").stat().st_size > 0
    # and each run on its own row, its epochs in columns
    assert "| code | seed | epoch 1 | epoch 2 |" in table
    assert table.index("| official | 0 | 0.500 / 0.500 / 0.500 | 0.600 / 0.600 / 0.600 |") < \
        table.index("| official | 1 | 0.700 / 0.700 / 0.700 | 0.800 / 0.800 / 0.800 |") < \
        table.index("| ours | 0 | 0.400 / 0.400 / 0.400 | 0.400 / 0.400 / 0.400 |")


def test_plot_refuses_when_there_is_no_run(tmp_path):
    assert_refused(run_script("--plot", "--folder=MNIST", f"--out={tmp_path}"), "no runs")


def one_epoch(tmp_path, code, *extra):
    res = run_script(f"--code={code}", "--folder=MNIST", "--epochs=1", "--limit=2",
                     "--fakes=30", f"--data-root={SHARED}", f"--out={tmp_path}", *extra)
    assert res.returncode == 0, res.stdout + res.stderr
    d = tmp_path / f"MNIST-{code}-s0"
    recs = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["iteration"]) for r in recs] == [(0, 0), (1, 2)]
    for r in recs:
        for m in ("acc_purity", "nmi", "ari"):
            assert 0.0 <= r[f"{m}_best_of_runs"] <= 1.0
        assert 0.1 <= r["acc_purity"] <= 1.0  # ten classes: purity is at least 0.1
    assert recs[0]["nmi"] != recs[1]["nmi"]  # two iterations moved E_c
    assert (d / "grid-e0.png").stat().st_size > 0 and (d / "grid-e1.png").stat().st_size > 0
    # the fakes for FID: uint8 NHWC images of G and their class codes, read as test_IS&FID reads
    from codegan.evaluation.fakes import load_fakes
    images, codes, _ = load_fakes(str(d / "fakes-e1.npy"), 30)
    assert images.dtype == np.uint8 and images.shape == (30, 28, 28, 1)
    assert codes.shape == (30,) and set(codes.tolist()) <= set(range(10))
    assert images.std() > 0  # G's images, not a blank array
    # a finished part is kept, not redone
    again = run_script(f"--code={code}", "--folder=MNIST", "--epochs=1", "--limit=2",
                       f"--data-root={SHARED}", f"--out={tmp_path}", *extra)
    assert again.returncode == 0 and "already there" in again.stdout
    assert len((d / "metrics.jsonl").read_text().splitlines()) == 2


@pytest.mark.skipif(not have_shared("mnist.npz"), reason="needs ../shared/datasets/mnist.npz")
def test_ours_one_epoch_on_real_mnist(tmp_path):
    one_epoch(tmp_path, "ours")


@pytest.mark.skipif(not os.environ.get("CODEGAN_OFFICIAL") or not have_shared("mnist.npz"),
                    reason="set CODEGAN_OFFICIAL to a checkout of the official code at 348d046")
def test_official_one_epoch_on_real_mnist(tmp_path):
    one_epoch(tmp_path, "official", f"--official={os.environ['CODEGAN_OFFICIAL']}")
