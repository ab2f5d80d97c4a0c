#!/usr/bin/env bash
# Syntax- and type-checks the CUDA kernels (Native/.../Cuda/Kernels/*.cu, Common.cu first, as CudaKernelSet joins them,
# and each Cuda/TransferKernels/*.cu on its own)
# with clang's CUDA front end, on a machine without a GPU or the CUDA toolkit, before spending device time on them.
# NVRTC on the device remains the authority (sm_90 features are checked there); this catches typos and type errors.
# Usage: tests/device/check-kernels.sh [HEAD_DIM GQA_GROUP KV_HEADS KV_BLOCK_SIZE HIDDEN]   (default 64 4 8 16 2048)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kernels="$here/../../Native/OrleansInference.Native/Cuda/Kernels"
clang="$(command -v clang-14 || command -v clang || true)"
[ -n "$clang" ] || { echo "check-kernels: clang not found (apt-get install clang)" >&2; exit 2; }
src="$(mktemp --suffix=.cu)"; trap 'rm -f "$src"' EXIT
cat "$kernels/Common.cu" > "$src"
for f in $(ls "$kernels"/*.cu | LC_ALL=C sort); do [ "$(basename "$f")" = Common.cu ] || cat "$f" >> "$src"; done
# clang 14 knows no sm_90, so the Hopper-only paths (#if __CUDA_ARCH__ >= 900) are checked in a second pass with
# that guard lifted (their PTX is left to NVRTC).
hopper="$(mktemp --suffix=.cu)"; trap 'rm -f "$src" "$hopper"' EXIT
sed 's/__CUDA_ARCH__ >= 900/1/' "$src" > "$hopper"
for f in "$src" "$hopper"; do
  "$clang" -x cuda --cuda-gpu-arch=sm_86 -nocudainc -nocudalib --cuda-device-only -fsyntax-only \
    -DHEAD_DIM="${1:-64}" -DGQA_GROUP="${2:-4}" -DKV_HEADS="${3:-8}" -DKV_BLOCK_SIZE="${4:-16}" -DHIDDEN="${5:-2048}" \
    -include "$here/kernel-check-prelude.h" "$f"
done
# Standalone modules (compiled on their own, e.g. the KV transfer gather/scatter kernels).
for f in "$here/../../Native/OrleansInference.Native/Cuda/TransferKernels"/*.cu; do
  [ -e "$f" ] || continue
  "$clang" -x cuda --cuda-gpu-arch=sm_86 -nocudainc -nocudalib --cuda-device-only -fsyntax-only \
    -include "$here/kernel-check-prelude.h" "$f"
done
echo "check-kernels: OK"
