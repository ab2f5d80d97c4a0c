# Sourced by the scripts that run on the Llama-3.2-1B-shaped model (bench, profiles): sets $here (the scripts),
# $out ($OUT or ./device-out, created), the staged .NET environment, $model (LLAMA1B or /tmp/llama1b, built without
# transformers references when absent; the build log in $out/llama1b.log) and $bench (the published benchmark program).
here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
out=${OUT:-$PWD/device-out}
mkdir -p "$out"
. "$(cd "$here/.." && pwd)/env.sh"
model=${LLAMA1B:-/tmp/llama1b}
[[ -f "$model/config.json" ]] || PYTHONUNBUFFERED=1 python3 "$here/make_llama1b.py" "$model" --no-reference > "$out/llama1b.log" 2>&1
bench=/tmp/apps/OrleansInference.Benchmarks/OrleansInference.Benchmarks.dll
