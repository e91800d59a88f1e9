"""bench/gpu_evidence.sh, the lent GPU's script, in its CPU mode (SMOKE=1): what would come back
from the device machine ($OUT) is the run's small files, within the machine's limits (at most 8
files of at most 16 MiB, at most two folders down, no checkpoint), with the evaluation at
iteration 0, the budget as a fraction of the official schedule, and the graphs part skipped
with its reason."""

import json
import os
import subprocess
import sys
import tarfile

import pytest

from conftest import REPO, SHARED_DATA, make_tiny_mnist

SCRIPT = os.path.join(REPO, "bench", "gpu_evidence.sh")
HELPER = os.path.join(REPO, "bench", "gpu_evidence.py")
MAX_FILES, MAX_BYTES = 8, 16 * 2 ** 20


def smoke(tmp_path, data, longrun_s, **env):
    out, work = tmp_path / "out", tmp_path / "work"
    e = {**os.environ, "SMOKE": "1", "OUT": str(out), "WORK": str(work),
         "LONGRUN_S": str(longrun_s), "OMP_NUM_THREADS": "1", "PYTHON": sys.executable, **env}
    if data:
        e["CODEGAN_DATA"] = str(data)
    p = subprocess.run(["bash", SCRIPT], env=e, capture_output=True, text=True, timeout=600)
    return p, out, work


def files_under(out):
    return sorted(os.path.relpath(os.path.join(r, n), out)
                  for r, _, names in os.walk(out) for n in names)


def check_comes_back(p, out):
    """The properties every smoke run must have; returns the metrics records."""
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    files = files_under(out)
    # what the device machine brings back: at most 8 files, each at most 16 MiB, no deeper
    # than $OUT/a/b/file, names of letters, digits, '.', '_', '-'; never a checkpoint
    assert len(files) <= MAX_FILES, files
    for f in files:
        assert not f.endswith((".pt", ".pth")), f
        assert os.path.getsize(out / f) <= MAX_BYTES, f
        assert f.count(os.sep) <= 2, f
        assert all(c.isalnum() or c in "._-" for part in f.split(os.sep) for c in part), f
    for name in ("metrics.jsonl", "log.txt", "config.yml", "grids.png"):
        assert f"longrun{os.sep}{name}" in files, files
    assert not any(f.endswith("exit.txt") for f in files), files  # no part failed
    with open(out / "longrun" / "grids.png", "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    recs = [json.loads(line) for line in open(out / "longrun" / "metrics.jsonl")]
    # the untrained start, then at least one evaluation after training
    assert recs[0]["iteration"] == 0, recs[0]
    assert len(recs) >= 2 and recs[-1]["iteration"] > 0, [r["iteration"] for r in recs]
    for r in recs:
        assert 0 <= r["acc"] <= r["acc_purity"] <= 1, r
    # the official settings: param.yml's schedule and losses, only the smoke's sizes changed
    cfg = open(out / "longrun" / "config.yml").read()
    assert "max_step: 600" in cfg and "beta_1: 100" in cfg and "method: codegan" in cfg
    assert "cuda_graphs: false" in cfg  # CUDA only: not asked for on the CPU
    text = p.stdout
    last = recs[-1]["iteration"]
    pct = f"{100 * last / 562_200:.3g}%"
    assert f"budget: {last:,} iterations per run = {pct} of the official schedule" in text, text
    assert "max_step 600 epochs x 937 iterations per epoch = 562,200 iterations" in text
    assert "(paper 0.65)" in text  # the paper's purity beside the last one
    assert "training exit 143 (stopped by SIGTERM at the budget, cleanly)" in text, text
    assert "graphs: skipped on the CPU (SMOKE)" in text and "need a CUDA device" in text
    log = open(out / "longrun" / "log.txt").read()
    assert "interrupted at iteration" in log and "(SIGTERM)" in log
    assert "evaluation at iteration 0" in log and "--- summary ---" in log
    return recs


def test_smoke_run_brings_back_small_files(tmp_path):
    """The CPU mode on a tiny generated stand-in (real data: the slow test below): about 30 s."""
    data = make_tiny_mnist(tmp_path / "data", n_train=256, n_test=100, name="fashion_mnist.npz")
    p, out, work = smoke(tmp_path, data, 10)
    recs = check_comes_back(p, out)
    # evaluations every TEST_ITERS (5) iterations after the start; the grids every 10 and the last
    its = [r["iteration"] for r in recs]
    assert all(i % 5 == 0 for i in its[:-1]), its
    assert "iterations 0, " in p.stdout and f"{its[-1]:,}" in p.stdout
    # the run folder kept its checkpoint, in WORK and nowhere under OUT
    assert any(f.endswith(".pt") for _, _, fs in os.walk(work) for f in fs)
    # the summary of two runs side by side (the graphs part's float32 / bf16 table), here on
    # the same run twice
    dest = tmp_path / "precision.txt"
    r = subprocess.run([sys.executable, HELPER, "precision", f"--float32={work / 'longrun'}",
                        f"--bf16={work / 'longrun'}", f"--dest={dest}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    table = dest.read_text()
    purity = f"{recs[-1]['acc_purity']:.4f}"
    assert f"| purity | {purity} | {purity} |" in table, table


def test_fit_packs_the_rest_by_priority(tmp_path):
    """More than 8 files under OUT: the 7 of highest priority stay, the rest go into rest.tar,
    and a file over 16 MiB is removed with a message."""
    out = tmp_path / "out"
    names = ["longrun/metrics.jsonl", "longrun/log.txt", "longrun/config.yml",
             "longrun/grids.png", "longrun/losses.jsonl", "graphs/precision.txt",
             "graphs/bisect.txt", "longrun_infogan/metrics.jsonl", "longrun_infogan/log.txt",
             "longrun_infogan/exit.txt", "longrun_infogan/grids.png"]
    for n in names:
        (out / n).parent.mkdir(parents=True, exist_ok=True)
        (out / n).write_text(n)
    with open(out / "graphs" / "huge.bin", "wb") as f:
        f.truncate(MAX_BYTES + 1)
    r = subprocess.run([sys.executable, HELPER, "fit", f"--out={out}",
                        "--parts= longrun graphs longrun_infogan "],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "huge.bin is over 16 MiB" in r.stdout
    files = files_under(out)
    assert len(files) == MAX_FILES, files
    assert "rest.tar" in files
    kept = set(files) - {"rest.tar"}
    assert kept == {"longrun_infogan/exit.txt", "longrun/metrics.jsonl",
                    "longrun_infogan/metrics.jsonl", "longrun/grids.png",
                    "longrun_infogan/grids.png", "longrun/log.txt", "longrun_infogan/log.txt"}
    with tarfile.open(out / "rest.tar") as tar:
        packed = set(tar.getnames())
    assert packed == set(names) - kept  # nothing lost


@pytest.mark.slow
def test_smoke_run_on_real_fashion_mnist(tmp_path):
    """The CPU mode as it runs by default, on the shared Fashion-MNIST (each evaluation encodes
    the 10,000 test images: about 80 s on a loaded 2-core CPU)."""
    if not os.path.isfile(os.path.join(SHARED_DATA, "fashion_mnist.npz")):
        pytest.skip(f"no fashion_mnist.npz in {SHARED_DATA}")
    p, out, _ = smoke(tmp_path, SHARED_DATA, 30)
    recs = check_comes_back(p, out)
    assert "10000 real test images" in recs[0]["protocol"]


@pytest.mark.slow
def test_evaluation_at_start_changes_nothing_of_the_run(tmp_path):
    """``train --eval_at_start`` adds the iteration-0 record and leaves the training as it is:
    after 3 iterations every weight equals that of the same run without it (on the CPU)."""
    import torch

    data = make_tiny_mnist(tmp_path / "data", n_train=64, n_test=40, name="fashion_mnist.npz")
    env = {**os.environ, "CODEGAN_DATA": data, "OMP_NUM_THREADS": "1"}
    weights = []
    for i, extra in enumerate((["--eval_at_start"], [])):
        out = tmp_path / f"runs{i}"
        subprocess.run([sys.executable, HELPER, "train", "--folder=Fashion-MNIST", *extra, "--",
                        "--device=cpu", "--g_batch_size=8", "--d_batch_size=8",
                        "--e_batch_size=16", "--kmeans_runs=1", "--max_iters=3",
                        "--test_iters=2", "--progress=false", f"--out={out}"],
                       env=env, check=True, capture_output=True)
        run = os.path.join(out, os.listdir(out)[0])
        its = [json.loads(line)["iteration"] for line in open(os.path.join(run, "metrics.jsonl"))]
        assert its == ([0, 2, 3] if extra else [2, 3])
        ckpt = os.path.join(run, "checkpoints", "ckpt-00000003.pt")
        weights.append(torch.load(ckpt, map_location="cpu", weights_only=False)["nets"])
    assert len(weights[0]) > 10 and all(torch.is_tensor(v) for v in weights[0].values())
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key
