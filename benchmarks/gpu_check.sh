#!/usr/bin/env bash
# The GPU check: the whole test suite on the cupy backend, then NumPy vs CuPy vs
# PyTorch CUDA benchmarks; results into benchmarks/RESULTS.md (section "gpu") and,
# when $OUT is set (the device tool), copies of the logs there.
#
#   bash benchmarks/gpu_check.sh            # on a machine with an NVIDIA GPU and CuPy
#   bash benchmarks/gpu_check.sh --dry-run  # on a CPU: exercises the script's code paths
#   bash benchmarks/gpu_check.sh --recurrent  # only the fused LSTM/GRU kernels (~3 min)
#
# Budget: about 9 minutes (tests <= 5, benchmarks <= 4: layers 3, classical learners 1).
set -u
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/gpu_check}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg QUICK=1 PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}

if [ "${1:-}" = "--dry-run" ]; then
  timeout 600 "$py" benchmarks/bench_gpu.py --dry-run --out "$out/gpu_results.md" || exit $?
  timeout 600 "$py" benchmarks/bench_gpu_classical.py --dry-run --out "$out/gpu_classical.md"
  exit $?
fi

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/device.txt"
"$py" -c "import cupy, torch; print('cupy', cupy.__version__, 'torch', torch.__version__, torch.cuda.get_device_name(0))" 2>&1 | tee -a "$out/device.txt"

# The recurrent check alone (issue 19, about 3 minutes): the fused LSTM/GRU gate kernels'
# tests on cupy, then LSTM/GRU with fused and unfused steps against cuDNN (RESULTS.md
# section "gpu_recurrent").
if [ "${1:-}" = "--recurrent" ]; then
  timeout 200 "$py" -m pytest -q -p no:cacheprovider --backend cupy -o addopts="" -rfE \
    tests/test_recurrent_kernels.py tests/test_recurrent.py tests/test_gru.py 2>&1 \
    | tee "$out/pytest_recurrent.log" | tail -15
  timeout 200 "$py" benchmarks/bench_gpu.py --parts recurrent --out "$out/gpu_recurrent.md" \
    2>&1 | tail -12
  cp benchmarks/RESULTS.md "$out/RESULTS.md" 2>/dev/null || true
  exit 0
fi

# 1. the suite on the GPU: every xp/backend_name test runs on cupy only
timeout 330 "$py" -m pytest -q -p no:cacheprovider --backend cupy -m "not slow" \
  --timeout 120 -o addopts="" -rfE tests 2>&1 | tee "$out/pytest_cupy.log" | tail -40
echo "pytest exit: ${PIPESTATUS[0]}" | tee -a "$out/pytest_cupy.log"

# 2. benchmarks side by side
timeout 240 "$py" benchmarks/bench_gpu.py --out "$out/gpu_results.md" 2>&1 | tail -20
timeout 120 "$py" benchmarks/bench_gpu_classical.py --out "$out/gpu_classical.md" 2>&1 | tail -8
cp benchmarks/RESULTS.md "$out/RESULTS.md" 2>/dev/null || true
