#!/usr/bin/env bash
# Nsight Compute stall breakdown and instruction mix of the attention kernels (prefill at 2,048 tokens, decode at
# batch 256), plus the SASS instruction counts of the compiled prefill kernel. Run after stage.sh --bench.
set -uo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/llama1b-env.sh"
sections="--section SpeedOfLight --section Occupancy --section WarpStateStats --section InstructionStats --section ComputeWorkloadAnalysis --page raw"
ncu --profile-from-start off --clock-control none --kernel-name paged_prefill_attention_v3 --launch-skip 2 --launch-count 1 $sections \
  dotnet $bench gpu --model "$model" --profile > "$out/ncu-prefill.txt" 2>&1
ncu --profile-from-start off --clock-control none --kernel-name paged_decode_attention_v2 --launch-skip 16 --launch-count 1 $sections \
  dotnet $bench gpu --model "$model" --profile > "$out/ncu-decode.txt" 2>&1
for f in prefill decode; do
  echo "== $f"
  grep -E "gpu__time_duration.sum|smsp__average_warps_issue_stalled_[a-z_]+_per_issue_active.ratio|smsp__inst_executed.sum |sm__inst_executed_pipe_[a-z_]+.avg.pct_of_peak_sustained_active|smsp__issue_active.avg.pct|achieved_occupancy|registers_per_thread" "$out/ncu-$f.txt" \
    | awk '{ if ($NF+0 > 0.05 || $1 ~ /duration|registers|occupancy|inst_executed.sum/) print $1, $(NF-1), $NF }' | head -45
done
cubin=$(ls ~/.cache/orleans-inference/kernels/*.cubin | head -1)
cuobjdump -sass "$cubin" | awk '/Function : paged_prefill_attention_v3/{p=1;next} /Function : /{p=0} p' > "$out/prefill.sass"
echo "== prefill SASS: $(wc -l < "$out/prefill.sass") lines"; grep -oE "(HMMA|MUFU\.EX2|LDSM|LDGSTS|BAR|FMNMX|FMUL|FADD|FSEL|ISETP|SHFL|F2FP)[.A-Z0-9]*" "$out/prefill.sass" | sort | uniq -c | sort -rn | head -20
