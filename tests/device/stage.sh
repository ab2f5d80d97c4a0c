#!/usr/bin/env bash
# Prepares .device/ for a run on the GPU machine (which has CUDA 13, cuBLASLt, NVRTC, NCCL and Python with torch,
# but no .NET): the .NET runtime (Microsoft.NETCore.App only, packed once), the published test and benchmark
# programs, and this folder's scripts. Then the device tool runs, from the repository root:
#   bash .device/scripts/correctness.sh     or     bash .device/scripts/bench.sh
# Usage (from the repository root):  tests/device/stage.sh [--tests] [--bench]
# DEVICE_STAGE overrides the target folder (default: .device in the repository root).
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
stage=${DEVICE_STAGE:-$root/.device}
mkdir -p "$stage/app" "$stage/scripts"
if [[ ! -f "$stage/dotnet-runtime.tar.xz" ]]; then
  dn=$(dirname "$(readlink -f "$(command -v dotnet)")")
  echo "packing the .NET runtime from $dn ..."
  tar -C "$dn" -cJf "$stage/dotnet-runtime.tar.xz" dotnet host shared/Microsoft.NETCore.App
fi
cat > "$stage/env.sh" <<'ENV'
# sourced on the GPU machine from the repository root
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ ! -x /tmp/dotnet/dotnet ]]; then mkdir -p /tmp/dotnet && tar -xJf "$here/dotnet-runtime.tar.xz" -C /tmp/dotnet; fi
export DOTNET_ROOT=/tmp/dotnet PATH=/tmp/dotnet:$PATH DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export NCCL_NVLS_ENABLE=0
ENV
publish() {
  local proj=$1 name
  name=$(basename "$proj" .csproj)
  rm -rf "$stage/app/$name"
  dotnet publish "$proj" -c Release -o "$stage/app/$name" -p:UseAppHost=false -p:GenerateDocumentationFile=false -v quiet -nologo
}
for arg in "$@"; do
  case $arg in
    --tests) publish tests/OrleansInference.Native.Tests/OrleansInference.Native.Tests.csproj ;;
    --bench) publish tests/OrleansInference.Benchmarks/OrleansInference.Benchmarks.csproj ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
cp tests/device/*.sh tests/device/*.py "$stage/scripts/" 2>/dev/null || true
cp tests/OrleansInference.Native.Tests/Fixtures/hf/make_fixtures.py "$stage/scripts/"
du -sh "$stage"
total=$(du -sm "$stage" | cut -f1)
if (( total > 60 )); then echo "warning: $stage is ${total} MiB; the device tool carries at most 64 MiB with the tree" >&2; fi
