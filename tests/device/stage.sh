#!/usr/bin/env bash
# Prepares .device/ for a run on the GPU machine (which has CUDA 13, cuBLASLt, NVRTC, NCCL and Python with torch,
# but no .NET): the .NET runtime (Microsoft.NETCore.App only, packed once), the published test and benchmark
# programs, and this folder's scripts. Then the device tool runs, from the repository root:
#   bash .device/scripts/correctness.sh     or     bash .device/scripts/bench.sh     or     bash .device/scripts/serve.sh
# Usage (from the repository root):  tests/device/stage.sh [--tests] [--bench] [--silo]
# --silo publishes Silos/OrleansInference.Silo and packs the ASP.NET Core shared framework it needs (once).
# DEVICE_STAGE overrides the target folder (default: .device in the repository root).
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
stage=${DEVICE_STAGE:-$root/.device}
mkdir -p "$stage/apps" "$stage/scripts"
if [[ ! -f "$stage/dotnet-runtime.tar.xz" ]]; then
  dn=$(dirname "$(readlink -f "$(command -v dotnet)")")
  echo "packing the .NET runtime from $dn ..."
  tar -C "$dn" -cJf "$stage/dotnet-runtime.tar.xz" dotnet host shared/Microsoft.NETCore.App
fi
cat > "$stage/env.sh" <<'ENV'
# sourced on the GPU machine from the repository root
_stage=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ ! -x /tmp/dotnet/dotnet ]]; then mkdir -p /tmp/dotnet && tar -xJf "$_stage/dotnet-runtime.tar.xz" -C /tmp/dotnet; fi
if [[ -f "$_stage/aspnetcore-runtime.tar.xz" && ! -d /tmp/dotnet/shared/Microsoft.AspNetCore.App ]]; then tar -xJf "$_stage/aspnetcore-runtime.tar.xz" -C /tmp/dotnet; fi
export DOTNET_ROOT=/tmp/dotnet PATH=/tmp/dotnet:$PATH DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export NCCL_NVLS_ENABLE=0
# The published programs travel compressed; unpacked once per machine under /tmp/apps.
mkdir -p /tmp/apps
for _a in "$_stage"/apps/*.tar.xz; do
  [[ -e "$_a" ]] || continue
  _n=$(basename "$_a" .tar.xz)
  if [[ ! -f /tmp/apps/$_n.stamp || "$_a" -nt /tmp/apps/$_n.stamp ]]; then
    rm -rf "/tmp/apps/$_n" && mkdir -p "/tmp/apps/$_n" && tar -xJf "$_a" -C "/tmp/apps/$_n" && touch "/tmp/apps/$_n.stamp"
  fi
done
ENV
publish() {
  local proj=$1 name tmp
  name=$(basename "$proj" .csproj)
  tmp=$(mktemp -d)
  dotnet publish "$proj" -c Release -o "$tmp/$name" -p:GenerateDocumentationFile=false -p:SatelliteResourceLanguages=en \
    -p:DebugType=none -p:DebugSymbols=false -v quiet -nologo
  tar -C "$tmp/$name" -cJf "$stage/apps/$name.tar.xz" .
  rm -rf "$tmp"
}
for arg in "$@"; do
  case $arg in
    --tests) publish tests/OrleansInference.Native.Tests/OrleansInference.Native.Tests.csproj ;;
    --bench) publish tests/OrleansInference.Benchmarks/OrleansInference.Benchmarks.csproj ;;
    --silo)
      if [[ ! -f "$stage/aspnetcore-runtime.tar.xz" ]]; then
        dn=$(dirname "$(readlink -f "$(command -v dotnet)")")
        echo "packing the ASP.NET Core runtime from $dn ..."
        tar -C "$dn" -cJf "$stage/aspnetcore-runtime.tar.xz" shared/Microsoft.AspNetCore.App
      fi
      publish Silos/OrleansInference.Silo/OrleansInference.Silo.csproj ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
cp tests/device/*.sh tests/device/*.py "$stage/scripts/" 2>/dev/null || true
cp tests/OrleansInference.Native.Tests/Fixtures/hf/make_fixtures.py "$stage/scripts/"
du -sh "$stage"
total=$(du -sm "$stage" | cut -f1)
if (( total > 60 )); then echo "warning: $stage is ${total} MiB; the device tool carries at most 64 MiB with the tree" >&2; fi
