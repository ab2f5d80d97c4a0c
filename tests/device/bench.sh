#!/usr/bin/env bash
# GPU benchmark: builds the random Llama-3.2-1B-shaped model with transformers (if /tmp/llama1b lacks it), times
# PyTorch transformers on it, then runs `OrleansInference.Benchmarks gpu` on the same weights.
# Run from the repository root after tests/device/stage.sh --bench. Results: $OUT (or ./device-out).
set -uo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/llama1b-env.sh"
if [[ "${SKIP_TRANSFORMERS:-0}" != 1 ]]; then
  PYTHONUNBUFFERED=1 timeout 300 python3 "$here/bench_transformers.py" "$model" "$out/transformers.json" 2>&1 | tee "$out/transformers.log" | grep -v Warning
fi
dotnet "$bench" gpu --model "$model" --transformers "$out/transformers.json" --json "$out/gpu-benchmark.json" ${BENCH_ARGS:-} 2>&1 | tee "$out/gpu-benchmark.txt"
