#!/usr/bin/env bash
# Nsight Compute source view of the prefill attention (2,048 tokens, third layer): per SASS instruction, executed
# count and warp-stall samples by reason, as CSV (`<kernel>-source.csv`), plus the raw metrics (`<kernel>-raw.csv`),
# and a summary of where the stall samples fall by opcode. KERNELS="v3 v2" picks the kernel versions (default v3).
# Run from the repository root after tests/device/stage.sh --bench. Results: $OUT (or ./device-out).
set -uo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/llama1b-env.sh"
for v in ${KERNELS:-v3}; do
  ncu --profile-from-start off --clock-control none --kernel-name "paged_prefill_attention_$v" --launch-skip 2 --launch-count 1 \
    --section SourceCounters --section WarpStateStats --section SpeedOfLight -o "$out/$v" \
    dotnet $bench gpu --model "$model" --profile --prefill-attention "${v#v}" > "$out/ncu-$v.log" 2>&1
  ncu -i "$out/$v.ncu-rep" --page source --csv --print-source sass > "$out/$v-source.csv"
  ncu -i "$out/$v.ncu-rep" --page raw --csv > "$out/$v-raw.csv"
  rm -f "$out/$v.ncu-rep"
  python3 "$here/stall_summary.py" "$out/$v-source.csv"
done
