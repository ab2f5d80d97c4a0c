#!/usr/bin/env bash
# Nsight Compute view of the batch-1 persistent decode kernel (the wide one by default; KERNEL=persistent_decode_layers
# for the two-block one): speed of light, memory, warp states, and per SASS opcode where the warps' stall samples fall
# (`persistent-source.csv` per instruction). Run from the repository root after tests/device/stage.sh --bench.
# Results: $OUT (or ./device-out).
set -uo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/llama1b-env.sh"
k=${KERNEL:-persistent_decode_layers_wide}
ncu --profile-from-start off --clock-control none --kernel-name "$k" --launch-count 1 \
  --section SourceCounters --section WarpStateStats --section SpeedOfLight --section MemoryWorkloadAnalysis -o "$out/persistent" \
  dotnet $bench gpu --model "$model" --profile > "$out/ncu-persistent.log" 2>&1
ncu -i "$out/persistent.ncu-rep" --page details > "$out/persistent-details.txt" 2>&1
ncu -i "$out/persistent.ncu-rep" --page source --csv --print-source sass > "$out/persistent-source.csv" 2>&1
rm -f "$out/persistent.ncu-rep"
grep -E "Duration|DRAM Throughput|Memory Throughput|L2 Hit|Warp Cycles Per Issued|Stall|Issue Slots|Registers" "$out/persistent-details.txt" | head -40
python3 "$here/stall_summary.py" "$out/persistent-source.csv" 25
