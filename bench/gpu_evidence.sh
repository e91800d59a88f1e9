#!/bin/bash
# Evidence from one lent GPU (one H200, 15 minutes of device time, at most 10 minutes a command,
# at most 8 files of 16 MiB back from $OUT), in parts that PARTS picks (default "longrun graphs"):
#   longrun   CoDeGAN on Fashion-MNIST, seed 0, the folder's param.yml as it is (the official
#             unsupervised settings) with --cuda_graphs=true, for LONGRUN_S seconds of wall clock
#             (default 470): `timeout` sends SIGTERM, the loop finishes its iteration, evaluates
#             and checkpoints, and stops. Evaluated at iteration 0 (the untrained networks), then
#             every TEST_ITERS (5,000) iterations and at the stop. Back in $OUT/longrun/:
#             metrics.jsonl, log.txt, config.yml, losses.jsonl (every 10th iteration) and
#             grids.png (the sample grids at 0, every GRID_EVERY = 10,000 and the last).
#             LONGRUN_INFOGAN_S > 0 then runs --method=infogan the same way ($OUT/longrun_infogan/).
#   graphs    float32 against bf16 (`precision`), two Fashion-MNIST runs of PRECISION_ITERS (2,000)
#             iterations with graphs, side by side in $OUT/graphs/precision.txt; then
#             bench/gpu_graphs.sh's part `bisect` (bench/graphs_bisect.py and the CIFAR-10
#             graphs test) in $OUT/graphs/bisect.txt, within GRAPHS_BISECT_S (150) seconds.
# Each part prints its budget as a fraction of the official schedule. A part that fails writes
# its exit status into $OUT/<part>/exit.txt and the script goes on. Checkpoints (about 190 MB)
# stay in $WORK (a temporary folder, removed at the end unless WORK is given or KEEP_WORK=1),
# never in $OUT; at the end at most 8 files remain under $OUT (the rest, if any, packed into
# $OUT/rest.tar by priority).
# Data: fashion_mnist.npz in $CODEGAN_DATA, else .devdata/, else ../shared/datasets; SMOKE=1
# also makes a tiny stand-in when none is found.
# On the GPU (carry .devdata holding fashion_mnist.npz), two calls, back to back:
#   PARTS=longrun bash bench/gpu_evidence.sh      (timeout_s 570: about 8.5 minutes)
#   PARTS=graphs bash bench/gpu_evidence.sh       (timeout_s 240: about 3 minutes)
# On the CPU (tests/test_gpu_evidence.py): SMOKE=1 bash bench/gpu_evidence.sh (or --cpu-smoke):
# LONGRUN_S 20 (the test: 10), tiny batches, an evaluation every 5 iterations, no graphs (CUDA only), the
# graphs part skipped with its reason.
set -u
cd "$(dirname "$0")/.."
SMOKE=${SMOKE:-0}
[[ "${1:-}" == "--cpu-smoke" ]] && SMOKE=1
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
OUT=${OUT:-${TMPDIR:-/tmp}/out}
OWN_WORK=0
[[ -z "${WORK:-}" ]] && OWN_WORK=1  # a folder of its own: removed at the end (checkpoints too)
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/gpu_evidence.XXXXXX")}
PARTS=" ${PARTS:-longrun graphs} "
mkdir -p "$OUT" "$WORK"
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
want() { [[ "$PARTS" == *" $1 "* ]]; }
PY=${PYTHON:-python}

# -- data --------------------------------------------------------------------------------------
if [[ -z "${CODEGAN_DATA:-}" ]]; then
  for d in "$PWD/.devdata" "$(dirname "$PWD")/shared/datasets"; do
    if [[ -f "$d/fashion_mnist.npz" ]]; then CODEGAN_DATA=$d; break; fi
  done
fi
if [[ -z "${CODEGAN_DATA:-}" && "$SMOKE" == 1 ]]; then
  CODEGAN_DATA=$WORK/data
  $PY -c "import sys; sys.path.insert(0, 'tests'); from conftest import make_tiny_mnist; \
make_tiny_mnist('$CODEGAN_DATA', n_train=256, n_test=100, name='fashion_mnist.npz')"
  stamp "data: no fashion_mnist.npz found; a tiny generated stand-in in $CODEGAN_DATA"
fi
export CODEGAN_DATA=${CODEGAN_DATA:-$PWD/.devdata}
stamp "data: $CODEGAN_DATA; out: $OUT; run folders (checkpoints stay there): $WORK"

if [[ "$SMOKE" == 1 ]]; then  # the CPU: tiny and quick, no CUDA-only settings
  LONGRUN_S=${LONGRUN_S:-20}
  TEST_ITERS=${TEST_ITERS:-5}
  GRID_EVERY=${GRID_EVERY:-10}
  EXTRA=(--device=cpu --g_batch_size=8 --d_batch_size=8 --e_batch_size=16 --kmeans_runs=1
         --eval_batch_size=1000 --num_threads=1)
else
  LONGRUN_S=${LONGRUN_S:-470}
  TEST_ITERS=${TEST_ITERS:-5000}
  GRID_EVERY=${GRID_EVERY:-10000}
  EXTRA=(--cuda_graphs=true)
fi
LONGRUN_INFOGAN_S=${LONGRUN_INFOGAN_S:-0}

failed() {  # failed PART WHAT: the exit status into $OUT/PART/exit.txt
  mkdir -p "$OUT/$1"
  echo "$2" >> "$OUT/$1/exit.txt"
  stamp "$1: FAILED: $2"
}

# -- longrun: one method for a wall-clock budget -----------------------------------------------
longrun() {  # longrun PART METHOD SECONDS
  local part=$1 method=$2 secs=$3 runs=$WORK/$1 drv=$WORK/$1.driver.txt rc crc
  stamp "$part: $method on Fashion-MNIST, seed 0, param.yml as it is ${EXTRA[*]}, for $secs s" \
    | tee "$drv"
  $PY bench/gpu_evidence.py budget --folder=Fashion-MNIST --method="$method" --seconds="$secs" \
    | tee -a "$drv"
  # SIGTERM at the budget: the loop finishes the iteration, evaluates, checkpoints, exits 143;
  # SIGKILL 120 s later if it has not
  timeout --preserve-status -s TERM -k 120 "$secs" \
    $PY bench/gpu_evidence.py train --folder=Fashion-MNIST --eval_at_start --losses -- \
      --method="$method" --seed=0 --test_iters="$TEST_ITERS" --save_iters=100000000 \
      --keep_checkpoints=1 --progress=false --out="$runs" "${EXTRA[@]}" 2>&1 | tee -a "$drv"
  rc=${PIPESTATUS[0]}
  stamp "$part: training exit $rc ($([[ $rc == 143 ]] && echo 'stopped by SIGTERM at the budget, cleanly' || echo 'ended by itself'))" \
    | tee -a "$drv"
  $PY bench/gpu_evidence.py collect --runs="$runs" --folder=Fashion-MNIST --dest="$OUT/$part" \
    --grid_every="$GRID_EVERY" --driver_log="$drv"
  crc=$?
  [[ $rc == 0 || $rc == 143 ]] || failed "$part" "training exit $rc"
  [[ $crc == 0 ]] || failed "$part" "collect exit $crc"
}

if want longrun; then
  longrun longrun codegan "$LONGRUN_S"
  if (( LONGRUN_INFOGAN_S > 0 )); then
    longrun longrun_infogan infogan "$LONGRUN_INFOGAN_S"
  fi
fi

# -- graphs: float32 against bf16, and the CIFAR-10 graphs bisection ---------------------------
if want graphs; then
  if [[ "$SMOKE" == 1 ]]; then
    stamp "graphs: skipped on the CPU (SMOKE): CUDA graphs, the bf16-vs-float32 GPU comparison and the CIFAR-10 graph test need a CUDA device"
  elif ! $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    failed graphs "no CUDA device: the graphs part needs one"
  else
    G=$OUT/graphs PI=${PRECISION_ITERS:-2000}
    mkdir -p "$G"
    stamp "graphs: float32 against bf16, CoDeGAN on Fashion-MNIST with graphs, $PI iterations each"
    $PY bench/gpu_evidence.py budget --folder=Fashion-MNIST --iters="$PI"
    for prec in float32 bf16; do
      timeout --preserve-status -s TERM -k 30 120 \
        $PY bench/gpu_evidence.py train --folder=Fashion-MNIST --losses -- --seed=0 \
          --precision=$prec --cuda_graphs=true --max_iters="$PI" --test_iters="$PI" \
          --save_iters=100000000 --keep_checkpoints=1 --progress=false \
          --out="$WORK/precision_$prec" > "$WORK/precision_$prec.txt" 2>&1
      rc=$?
      [[ $rc == 0 ]] || { failed graphs "precision $prec: training exit $rc";
                          tail -5 "$WORK/precision_$prec.txt"; }
    done
    $PY bench/gpu_evidence.py precision --float32="$WORK/precision_float32" \
      --bf16="$WORK/precision_bf16" --dest="$G/precision.txt" || failed graphs "precision summary"
    stamp "graphs: bench/gpu_graphs.sh bisect (24 iterations per variant on random data: a test of the capture, not of learning)"
    $PY bench/gpu_evidence.py budget --folder=CIFAR-10 --iters=24
    mkdir -p "$WORK/bisect"
    OUT=$WORK/bisect PARTS=bisect BISECT_S=${BISECT_S:-90} \
      timeout -k 10 "${GRAPHS_BISECT_S:-150}" bash bench/gpu_graphs.sh
    rc=$?
    cp "$WORK/bisect/bisect.txt" "$G/bisect.txt" 2>/dev/null || failed graphs "no bisect.txt"
    [[ $rc == 0 ]] || failed graphs "gpu_graphs.sh bisect exit $rc"
    grep -h "pytest exit\|passed\|failed" "$G/bisect.txt" 2>/dev/null | tail -3
  fi
fi

$PY bench/gpu_evidence.py fit --out="$OUT" --max_files=8 --parts="$PARTS"
stamp "end; files under $OUT:"
find "$OUT" -type f -printf '  %P %s bytes\n' | sort
if [[ $OWN_WORK == 1 && "${KEEP_WORK:-0}" != 1 ]]; then rm -rf "$WORK"; fi
