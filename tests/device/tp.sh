#!/usr/bin/env bash
# Tensor parallelism on a 2-GPU machine, one command (≤ 5 minutes; each step has its own time limit and the script
# goes on after a failed step). Run from the repository root after tests/device/stage.sh --tests --bench:
#   bash .device/scripts/tp.sh
# Steps: the TP test classes (CUDA TP=2 vs TP=1 and the reference on the built-in model; the CPU-simulated TP),
# the random Llama-3.2-1B-shaped model (make_llama1b.py, unless /tmp/llama1b has it), then
# `OrleansInference.Benchmarks tp --model /tmp/llama1b --tp 1,2` (agreement with TP=1, decode b=1/64, prefill 2048).
# Results in $OUT (or ./device-out): gpu.txt, tp-tests.log, llama1b.log, tp-benchmark.txt, tp-benchmark.json.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
stage=$(cd "$here/.." && pwd)
out=${OUT:-$PWD/device-out}
mkdir -p "$out"
. "$stage/env.sh"
export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader > "$out/gpu.txt" 2>&1
nvidia-smi topo -m >> "$out/gpu.txt" 2>&1
cat "$out/gpu.txt"

echo "== TP tests"
(cd /tmp/apps/OrleansInference.Native.Tests && timeout -k 10 120 dotnet OrleansInference.Native.Tests.dll \
  -class OrleansInference.Native.Tests.Cuda.CudaTensorParallelTests -class 'OrleansInference.Native.Tests.TensorParallel.*' \
  > "$out/tp-tests.log" 2>&1); echo "tests exit $?" >> "$out/tp-tests.log"
grep -v "^\s*$" "$out/tp-tests.log" | grep -v "Stack Trace:\|   at \|InvokeStub\|MethodBaseInvoker\|RuntimeMethodHandle" | tail -40

echo "== Llama-3.2-1B-shaped model"
model=${LLAMA1B:-/tmp/llama1b}
if [[ ! -f "$model/config.json" ]]; then
  PYTHONUNBUFFERED=1 timeout -k 10 120 python3 "$here/make_llama1b.py" "$model" --no-reference > "$out/llama1b.log" 2>&1
  echo "make_llama1b exit $?" >> "$out/llama1b.log"
  tail -5 "$out/llama1b.log"
fi

echo "== tp benchmark"
timeout -k 10 150 dotnet /tmp/apps/OrleansInference.Benchmarks/OrleansInference.Benchmarks.dll tp --model "$model" --tp 1,2 \
  --json "$out/tp-benchmark.json" > "$out/tp-benchmark.txt" 2>&1
echo "benchmark exit $?" >> "$out/tp-benchmark.txt"
cat "$out/tp-benchmark.txt"
