#!/usr/bin/env bash
# Two-GPU KV transfer over NCCL (issue 6): disaggregated prefill as two processes, then the kill test.
#   1. p2p:     peer-to-peer copy bandwidth GPU 0 -> GPU 1 (the ceiling the transfer is compared with)
#   2. builtin: process A (GPU 0) prefills, sends the prompts' KV to process B (GPU 1); B checks the KV bytes and
#               decodes 32 greedy tokens, which must equal A's single-engine run (quick check on the built-in model)
#   3. 1b:      the same on the Llama-3.2-1B-shaped model (make_llama1b.py), 2,000-token prompts: the GB/s table
#   4. kill:    A sends an 8,192-token prefix; B stops after two layers and is SIGKILLed mid-transfer; A must fail with
#               a typed KvTransferException within its 10 s deadline and release its blocks (pool counts printed)
# Run from the repository root after tests/device/stage.sh --bench. Each step has its own timeout; the script goes on
# after a failed step. Results in $OUT (or ./device-out): kv-transfer.log (everything) and one JSON per step/role.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
stage=$(cd "$here/.." && pwd)
out=${OUT:-$PWD/device-out}
mkdir -p "$out"
. "$stage/env.sh"
export NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-lo} NCCL_DEBUG=${NCCL_DEBUG:-WARN}
log="$out/kv-transfer.log"
bench="dotnet /tmp/apps/OrleansInference.Benchmarks/OrleansInference.Benchmarks.dll kv-transfer"
work=$(mktemp -d)
: > "$log"
say() { echo "$*" | tee -a "$log"; }
summary=()

say "== $(date -u +%FT%TZ) kv-transfer.sh"
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$log"
nvidia-smi topo -m 2>&1 | head -5 >> "$log"
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
if (( gpus < 2 )); then say "FAIL: need 2 GPUs, found $gpus"; exit 1; fi

say "== step 1: p2p copy bandwidth"
timeout 60 $bench --role p2p --json "$out/p2p.json" >> "$log" 2>&1; rc=$?
summary+=("p2p rc=$rc")

# pair NAME MODEL PROMPT_TOKENS STEP_TIMEOUT: A and B as two processes; B in the background.
pair() {
  local name=$1 model=$2 tokens=$3 limit=$4 uid="$work/$1.uid" ref="$work/$1.ref.json"
  rm -f "$uid" "$ref"
  timeout "$limit" $bench --role decode --device cuda:1 --model "$model" --uid-file "$uid" --reference "$ref" \
    --prompt-tokens "$tokens" --json "$out/$name-decode.json" > "$work/$name-decode.log" 2>&1 &
  local bpid=$!
  timeout "$limit" $bench --role prefill --device cuda:0 --model "$model" --uid-file "$uid" --reference "$ref" \
    --prompt-tokens "$tokens" --baseline "$out/p2p.json" --json "$out/$name-prefill.json" > "$work/$name-prefill.log" 2>&1
  local arc=$?
  wait $bpid; local brc=$?
  { echo "-- $name: prefill (A, GPU 0) rc=$arc"; cat "$work/$name-prefill.log"; echo "-- $name: decode (B, GPU 1) rc=$brc"; cat "$work/$name-decode.log"; } >> "$log"
  grep -E "^\||PASS|FAIL|link up" "$work/$name-prefill.log" "$work/$name-decode.log" | sed 's/^[^:]*://'
  summary+=("$name prefill rc=$arc decode rc=$brc")
}

say "== step 2: built-in model, quick check"
pair builtin builtin 1000 120

say "== step 3: Llama-3.2-1B-shaped model"
model=${LLAMA1B:-/tmp/llama1b}
if [[ ! -f "$model/config.json" ]]; then
  PYTHONUNBUFFERED=1 timeout 150 python3 "$here/make_llama1b.py" "$model" --no-reference >> "$log" 2>&1
fi
if [[ -f "$model/config.json" ]]; then
  pair 1b "$model" 2000 150
else
  say "no 1B model (make_llama1b.py failed); the kill test uses the built-in model"; model=builtin
  summary+=("1b skipped")
fi

say "== step 4: kill test (receiver SIGKILLed mid-transfer)"
uid="$work/kill.uid"; ref="$work/kill.ref.json"; tokens=8192
[[ "$model" == builtin ]] && tokens=2000
timeout 150 $bench --role decode --kill-test --device cuda:1 --model "$model" --uid-file "$uid" --reference "$ref" \
  --prompt-tokens $tokens > "$work/kill-decode.log" 2>&1 &
bpid=$!
timeout 150 $bench --role prefill --kill-test --timeout-s 10 --device cuda:0 --model "$model" --uid-file "$uid" --reference "$ref" \
  --prompt-tokens $tokens --json "$out/kill.json" > "$work/kill-prefill.log" 2>&1 &
apid=$!
stalled=0
for _ in $(seq 1 1200); do
  if grep -q STALLED "$work/kill-decode.log" 2>/dev/null; then stalled=1; break; fi
  kill -0 $bpid 2>/dev/null || break
  sleep 0.1
done
# $bpid is timeout's pid; SIGKILL the receiver process itself (it printed its pid), then timeout.
recv=$(grep -o 'STALLED.*pid=[0-9]*' "$work/kill-decode.log" 2>/dev/null | grep -o '[0-9]*$' | head -1)
say "receiver stalled=$stalled; SIGKILL pid ${recv:-?} at $(date -u +%T.%N | cut -c1-12)"
[[ -n "$recv" ]] && kill -9 "$recv"; kill -9 $bpid 2>/dev/null
wait $apid; arc=$?
{ echo "-- kill: prefill (A, sender) rc=$arc"; cat "$work/kill-prefill.log"; echo "-- kill: decode (B, receiver, killed)"; cat "$work/kill-decode.log"; } >> "$log"
grep -E "pool|failed after|kill test|FAILED|STALLED" "$work/kill-prefill.log" "$work/kill-decode.log" | sed 's/^[^:]*://'
summary+=("kill stalled=$stalled sender rc=$arc")

say "== summary"
for s in "${summary[@]}"; do say "$s"; done
rm -rf "$work"
