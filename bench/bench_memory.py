"""Peak memory (max resident set size) of a short MNIST training run, in a child process.

    cd <repo> && python bench/bench_memory.py [--max_iters=200] [--device=cpu]

Runs MNIST/train.py (official settings; --max_iters, one evaluation and one checkpoint at the
end) and reports the child's ru_maxrss. The training set is held once, as uint8 (47 MB for
60,000 28x28 images); the float batches are made per step.
"""

import os
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv):
    extra = [a for a in argv if a.startswith("--")]
    if not any(a.startswith("--max_iters") for a in extra):
        extra.append("--max_iters=200")
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "train.py", f"--out={out}", "--progress=false", *extra]
        env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=os.path.join(REPO, "MNIST"), env=env, check=True,
                       stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
    kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kilobytes on Linux
    print(f"MNIST training ({' '.join(extra)}): peak resident memory {kb / 1024:.0f} MiB "
          f"(uint8 training set: {60000 * 28 * 28 / 2**20:.0f} MiB); wall {wall:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
