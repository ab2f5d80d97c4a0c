#!/usr/bin/env bash
# GPU correctness run: every test of OrleansInference.Native.Tests (the CUDA classes run instead of skipping), plus,
# when torch/transformers are present, the Llama-3.2-1B-shaped comparison with transformers (HfLlama1BTests).
# Run from the repository root after tests/device/stage.sh --tests. Results: $OUT (or ./device-out) /tests.log.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
stage=$(cd "$here/.." && pwd)
out=${OUT:-$PWD/device-out}
mkdir -p "$out"
export ORLEANS_INFERENCE_REPORT="$out/report.txt"
. "$stage/env.sh"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
if [[ "${SKIP_1B:-0}" != 1 ]] && python3 -c "import torch, transformers" 2>/dev/null; then
  PYTHONUNBUFFERED=1 python3 "$here/make_llama1b.py" /tmp/llama1b 2>&1 | tee "$out/llama1b.log" && export ORLEANS_INFERENCE_LLAMA1B=/tmp/llama1b
fi
if [[ "${FIXTURES:-0}" == 1 ]]; then
  mkdir -p /tmp/fx && PYTHONUNBUFFERED=1 python3 "$here/make_fixtures.py" /tmp/fx > "$out/fixtures.log" 2>&1 && tar -C /tmp/fx -czf "$out/hf-fixtures.tar.gz" .
fi
cd /tmp/apps/OrleansInference.Native.Tests
# The in-process runner prints failures and skips with their messages, then the summary.
dotnet OrleansInference.Native.Tests.dll ${TEST_FILTER:-} 2>&1 | tee "$out/tests.log" | grep -v "^\s*$" | grep -v "Stack Trace:\|   at \|InvokeStub\|MethodBaseInvoker\|RuntimeMethodHandle" | tail -200
