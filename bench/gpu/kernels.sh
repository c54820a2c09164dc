#!/usr/bin/env bash
# Our webgpu kernels (src/main/engine/kernels/webgpu.ts) off and on, interleaved in one call:
# `bench steps --kernels` on the large workload (tensor Adam, where the fused Adam and EMA kernels
# apply), kernels per step and steps/s, ROUNDS rounds of (off, on). Results in OUT_DIR as JSON.
#
#   GPU_SCRIPT=bench/gpu/kernels.sh bash bench/gpu/device.sh     (on a lent GPU machine)
#   bash bench/gpu/kernels.sh [OUT_DIR]                           (on a GPU box with the repo)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${1:-bench/out/gpu}
mkdir -p "$OUT"
t0=$(date +%s)
stamp() { echo "[$(($(date +%s) - t0)) s] $*"; }
status=0
for round in $(seq 1 "${ROUNDS:-2}"); do
  for k in 0 1; do
    stamp "round $round, D2NWG_WEBGPU_KERNELS=$k"
    D2NWG_WEBGPU_KERNELS=$k D2NWG_BACKEND=webgpu timeout "${STEP_TIMEOUT:-100}" \
      node bin/d2nwg.mjs bench steps --workloads "${WORKLOADS:-large}" --vae-epochs 1 \
      --diffusion-steps 10 --kernels --out "$OUT/steps-kernels$k-round$round.json" 2>&1 |
      grep -v '^Warning: maxDynamic' || status=1
  done
done
stamp "done"
exit $status
