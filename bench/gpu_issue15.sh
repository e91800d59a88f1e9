#!/bin/bash
# One GPU session's evidence (issues 15 and 11), as run on the lent GPU machine:
#   1. issue 11's Fashion-MNIST comparison (4 methods x 3 seeds x 2,000 iterations, 4 runs at a
#      time) in the background, while
#   2. the GPU tests of tests/test_cuda_graphs.py check that CUDA graphs equal the eager loop;
#   3. bench/bench_graphs.py on MNIST, Fashion-MNIST and CIFAR-10, then concurrent MNIST runs.
# The data are read from $CODEGAN_DATA (default .devdata/: mnist.npz, fashion_mnist.npz and a
# 3,200-image cifar10.npz subset; the CIFAR-10 projection uses the full set's 781 iterations per
# epoch). Results go to $OUT (default /tmp/out): gpu_tests.txt, bench.txt, compare.log,
# compare.tgz (the comparison's report, figures, logs and metrics; no checkpoints).
set -u
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD CODEGAN_DATA=${CODEGAN_DATA:-$PWD/.devdata}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
CMP=/tmp/compare_fashion_gpu
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 )) s] $*"; }

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
} > "$OUT/gpu_tests.txt" 2>&1

stamp "compare starts" > "$OUT/compare.log"
( timeout "${COMPARE_S:-260}" python -m codegan.compare --folder=Fashion-MNIST \
    --methods=codegan,infogan,clustergan,infogan-cr --seeds=0,1,2 --max_iters=2000 \
    --test_iters=500 --progress=false --save_iters=2000 --keep_checkpoints=1 --jobs=4 \
    --out=$CMP >> "$OUT/compare.log" 2>&1
  echo "compare exit $?" >> "$OUT/compare.log" ) &
CMP_PID=$!

stamp "GPU tests" >> "$OUT/gpu_tests.txt"
timeout 150 python -m pytest -q -p no:cacheprovider -k on_the_gpu tests/test_cuda_graphs.py \
    >> "$OUT/gpu_tests.txt" 2>&1
echo "pytest exit $?" >> "$OUT/gpu_tests.txt"

wait $CMP_PID
stamp "compare done" >> "$OUT/compare.log"
tar czf "$OUT/compare.tgz" --exclude='*.pt' -C /tmp "$(basename $CMP)" 2>/dev/null

B="$OUT/bench.txt"
stamp "bench MNIST" > "$B"
timeout 120 python bench/bench_graphs.py --dataset-dir MNIST --iters 100 --rounds 3 >> "$B" 2>&1
stamp "bench Fashion-MNIST" >> "$B"
timeout 60 python bench/bench_graphs.py --dataset-dir Fashion-MNIST --iters 100 --rounds 3 \
    --variants "eager (defaults),eager check/100,graphs,graphs + bf16" >> "$B" 2>&1
stamp "bench CIFAR-10" >> "$B"
timeout 80 python bench/bench_graphs.py --dataset-dir CIFAR-10 --iters 30 --rounds 3 --warmup 9 \
    --epoch_iters 781 --variants "eager (defaults),eager + bf16,graphs,graphs + bf16,graphs + channels_last" \
    >> "$B" 2>&1
stamp "concurrent MNIST runs" >> "$B"
timeout 60 python bench/bench_graphs.py --dataset-dir MNIST --concurrent 1,4,8 --iters 100 \
    --rounds 2 >> "$B" 2>&1
stamp "end" >> "$B"
