#!/bin/bash
# One GPU lease's evidence, as run on the lent GPU machine:
#   tests     the GPU tests of tests/test_cuda_graphs.py (CUDA graphs against the eager loop),
#             while `compare` runs beside them;
#   compare   the Fashion-MNIST comparison (4 methods x 3 seeds x 2,000 iterations,
#             $COMPARE_JOBS runs at a time, default 4);
#   mnist, fashion, cifar   bench/bench_graphs.py at each folder's settings;
#   concurrent_graphs, concurrent_eager   MNIST runs sharing the GPU;
#   bisect    bench/graphs_bisect.py and the CIFAR-10 graph test (a CPU finding);
#   mnist_long   MNIST with graphs for $MNIST_S seconds, its curve beside the eager H100 run.
# PARTS picks them (default: all but concurrent_eager, bisect, mnist_long). With 15 minutes of
# device time: PARTS="bisect mnist_long" (about 10 minutes). It was run twice:
#   bash bench/gpu_graphs.sh
#   PARTS="tests compare cifar concurrent_eager" COMPARE_JOBS=6 bash bench/gpu_graphs.sh
# (the second after fixing what the first found; bench/results/h200_cuda_graphs_*.txt).
# The data are read from $CODEGAN_DATA (default .devdata/: mnist.npz, fashion_mnist.npz and a
# 3,200-image cifar10.npz subset; the CIFAR-10 projection uses the full set's 781 iterations per
# epoch). Results go to $OUT (default $TMPDIR/out): gpu_tests.txt, bench.txt, compare.log,
# compare.tgz (the comparison's report, figures, logs and metrics; no checkpoints).
set -u
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD CODEGAN_DATA=${CODEGAN_DATA:-$PWD/.devdata}
OUT=${OUT:-${TMPDIR:-/tmp}/out}
PARTS=" ${PARTS:-tests compare mnist fashion cifar concurrent_graphs} "
mkdir -p "$OUT"
CMP=${TMPDIR:-/tmp}/compare_fashion_gpu
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
want() { [[ "$PARTS" == *" $1 "* ]]; }
B="$OUT/bench.txt"
: > "$B"

if want compare; then
  stamp "compare starts" > "$OUT/compare.log"
  ( timeout "${COMPARE_S:-260}" python -m codegan.compare --folder=Fashion-MNIST \
      --methods=codegan,infogan,clustergan,infogan-cr --seeds=0,1,2 --max_iters=2000 \
      --test_iters=500 --progress=false --save_iters=2000 --keep_checkpoints=1 \
      --jobs="${COMPARE_JOBS:-4}" --out=$CMP >> "$OUT/compare.log" 2>&1
    echo "compare exit $?" >> "$OUT/compare.log" ) &
  CMP_PID=$!
fi
if want tests; then
  { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    python -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
    stamp "GPU tests"
  } > "$OUT/gpu_tests.txt" 2>&1
  timeout 150 python -m pytest -q -p no:cacheprovider -k on_the_gpu tests/test_cuda_graphs.py \
      >> "$OUT/gpu_tests.txt" 2>&1
  echo "pytest exit $?" >> "$OUT/gpu_tests.txt"
fi
if want compare; then
  wait $CMP_PID
  stamp "compare done" >> "$OUT/compare.log"
  tar czf "$OUT/compare.tgz" --exclude='*.pt' -C /tmp "$(basename $CMP)" 2>/dev/null
fi

if want mnist; then
  stamp "bench MNIST" >> "$B"
  timeout 120 python bench/bench_graphs.py --dataset-dir MNIST --iters 100 --rounds 3 >> "$B" 2>&1
fi
if want fashion; then
  stamp "bench Fashion-MNIST" >> "$B"
  timeout 60 python bench/bench_graphs.py --dataset-dir Fashion-MNIST --iters 100 --rounds 3 \
      --variants "eager (defaults),eager check/100,graphs,graphs + bf16" >> "$B" 2>&1
fi
if want cifar; then
  stamp "bench CIFAR-10" >> "$B"
  timeout 80 python bench/bench_graphs.py --dataset-dir CIFAR-10 --iters 30 --rounds 3 \
      --warmup 9 --epoch_iters 781 \
      --variants "eager (defaults),eager + bf16,graphs,graphs + bf16,graphs + channels_last" \
      >> "$B" 2>&1
fi
if want concurrent_graphs; then
  stamp "concurrent MNIST runs" >> "$B"
  timeout 60 python bench/bench_graphs.py --dataset-dir MNIST --concurrent 1,4,8 --iters 100 \
      --rounds 2 >> "$B" 2>&1
fi
if want concurrent_eager; then
  stamp "concurrent eager MNIST runs" >> "$B"
  timeout 45 python bench/bench_graphs.py --dataset-dir MNIST --concurrent 1,4 --iters 100 \
      --rounds 1 --concurrent-variant "eager (defaults)" >> "$B" 2>&1
fi
if want bisect; then  # a CPU finding, checked on the GPU (bench/graphs_bisect.py)
  stamp "graphs bisect" > "$OUT/bisect.txt"
  timeout "${BISECT_S:-150}" python bench/graphs_bisect.py --iters 24 \
      --variants "fashion,cifar10,cifar10 - colour,cifar10 - lr" >> "$OUT/bisect.txt" 2>&1
  timeout 100 python -m pytest -q -p no:cacheprovider -k "on_the_gpu and cifar10" \
      tests/test_cuda_graphs.py >> "$OUT/bisect.txt" 2>&1
  echo "pytest exit $?" >> "$OUT/bisect.txt"
fi
if want mnist_long; then  # MNIST with graphs for MNIST_S seconds, beside the eager H100 run
  # (Figure/mnist_seed0_h100_metrics.jsonl: cd MNIST && python train.py --test_iters=250);
  # SIGTERM at the end checkpoints and stops it. Plot here afterwards:
  #   python Figure/plot_metrics.py --run=Figure/mnist_seed0_h100_metrics.jsonl \
  #       --beside=$OUT/mnist_graphs_metrics.jsonl --labels=eager,graphs --out=...
  stamp "MNIST with graphs" > "$OUT/mnist_graphs_log.txt"
  ( cd MNIST && timeout -s TERM "${MNIST_S:-420}" python train.py --cuda_graphs=true \
      --test_iters=500 --save_iters=100000 --keep_checkpoints=1 --progress=false \
      --out="${TMPDIR:-/tmp}/mnist_graphs" >> "$OUT/mnist_graphs_log.txt" 2>&1 )
  run=$(ls -d "${TMPDIR:-/tmp}"/mnist_graphs/0*/ | tail -1)
  cp "$run/metrics.jsonl" "$OUT/mnist_graphs_metrics.jsonl"
  cat "$run/log.txt" >> "$OUT/mnist_graphs_log.txt"
  cp "$run"/samples/grid-*.png "$OUT/" 2>/dev/null
fi
stamp "end" >> "$B"
