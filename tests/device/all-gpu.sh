#!/usr/bin/env bash
# Runs several device scripts in one lease and packs each one's $OUT into a single archive, because only 8 files
# come back from a run. Usage (from the repository root, after stage.sh): bash .device/scripts/all-gpu.sh tp serve kv-transfer
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
final=${OUT:-$PWD/device-out}
mkdir -p "$final"
nvidia-smi --query-gpu=index,name,memory.total --format=csv > "$final/gpus.txt" 2>&1
for s in "$@"; do
  o=/tmp/out-$s; rm -rf "$o"; mkdir -p "$o"
  start=$(date +%s)
  OUT=$o bash "$here/$s.sh" > "$o/stdout.log" 2>&1
  rc=$?
  echo "$s: rc=$rc in $(( $(date +%s) - start )) s" | tee -a "$final/summary.txt"
  tail -n 40 "$o/stdout.log" | sed "s/^/[$s] /"
  tar -C "$o" -czf "$final/$s.tgz" .
done
