#!/usr/bin/env bash
# Nsight Compute profile of the CUDA backend on the Llama-1B-shaped model: per-kernel device time, registers,
# achieved occupancy, DRAM and tensor-pipe utilisation for one eager decode step at batch 1 and 256 and one
# 2,048-token prefill; register/spill report of the compiled module; detailed sections for the attention kernels.
# Run from the repository root after tests/device/stage.sh --bench. Results: $OUT (or ./device-out).
set -uo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/llama1b-env.sh"
metrics=gpu__time_duration.sum,launch__registers_per_thread,launch__grid_size,sm__warps_active.avg.pct_of_peak_sustained_active,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,lts__t_sectors_srcunit_tex_op_read_lookup_hit.sum,lts__t_sectors_srcunit_tex_op_read.sum
ncu --profile-from-start off --clock-control none --metrics $metrics --csv dotnet $bench gpu --model "$model" --profile > "$out/ncu.csv" 2> "$out/ncu.err"
python3 "$here/ncu_summary.py" "$out/ncu.csv" | tee "$out/ncu-summary.txt"
for f in ~/.cache/orleans-inference/kernels/*.cubin; do cuobjdump -res-usage "$f" 2>&1 | grep -E "Function|REG" | paste - - ; done | tee "$out/resources.txt"
ncu --profile-from-start off --clock-control none --kernel-name regex:"paged_prefill_attention_v3|paged_decode_attention_v2" --launch-count 4 \
  --section SpeedOfLight --section Occupancy --section WarpStateStats --section MemoryWorkloadAnalysis \
  dotnet $bench gpu --model "$model" --profile > "$out/ncu-attention.txt" 2>&1
grep -E "paged_|Duration|Memory Throughput|DRAM Throughput|Compute \(SM\)|Achieved Occupancy|Theoretical Occupancy|Registers|Stall|L1/TEX Hit|L2 Hit|Warp Cycles Per Issued" "$out/ncu-attention.txt" | head -80
