#!/usr/bin/env bash
# The GPU window's one command (README: GPU machines). Installs the carried wheels (.whl/, from
# benchmarks/gpu/wheels.sh) without dependencies, checks the GPU, runs the performance
# harness's GPU preset (benchmarks/perf/run_all.py: training throughput suite / hand-written /
# LightlySSL at fp32 and bf16 + channels-last, framework overhead, OR cost at batch 256, loader,
# evaluation and extraction) under one time limit (GPU_RUN_TIMEOUT, 540 s: a command may run 600;
# each benchmark's JSON is written as it ends, so a cut run keeps the finished ones), and copies
# the JSON files and the log to $OUT (default: results/perf/gpu_run). On a machine without a GPU
# `--toy` runs two CPU benchmarks instead, to check the script itself:
#   OUT=/tmp/gpu_out bash benchmarks/gpu/run.sh --toy
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-results/perf/gpu_run}
mkdir -p "$OUT"
START=$(mktemp)  # the JSON files written after this are this run's
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
PY=${PYTHON:-python3}
if [ -d .whl ] && ! $PY -c "import mmselfsup" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl || { echo "wheel install failed"; exit 3; }
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONPATH=${PYTHONPATH:-$PWD}
{
  date -u +%FT%TZ
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  $PY -c "import torch, mmselfsup, mmengine; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
  $PY -c "import lightly; print('lightly', lightly.__version__)" || echo "lightly missing: no LightlySSL row"
} 2>&1 | tee "$OUT/run.log"
if [ "${1:-}" = "--toy" ]; then
  ONLY=(--only framework_overhead loader_throughput)
else
  ONLY=()
fi
# run_all writes results/perf/<benchmark>_<device>.json; each benchmark is bounded by the harness
timeout "${GPU_RUN_TIMEOUT:-540}" $PY benchmarks/perf/run_all.py ${ONLY[@]+"${ONLY[@]}"} 2>&1 | tee -a "$OUT/run.log"
rc=${PIPESTATUS[0]}
device=$($PY -c "import torch; print('gpu' if torch.cuda.is_available() else 'cpu')")
find results/perf -name "*_${device}*.json" -newer "$START" -exec cp {} "$OUT"/ \;
echo "exit $rc" | tee -a "$OUT/run.log"
exit $rc
