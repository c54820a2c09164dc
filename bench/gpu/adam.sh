#!/usr/bin/env bash
# Host Adam against tensor Adam (our fused kernel) on the GPU, interleaved in one call: `bench
# steps` on the standard workloads (where makeAdam picks host Adam on a GPU: a readback of the
# gradients and an upload of the weights every step) with D2NWG_ADAM=host and =tensor, ROUNDS
# rounds of (host, tensor). Results in OUT_DIR as JSON.
#
#   GPU_SCRIPT=bench/gpu/adam.sh bash bench/gpu/device.sh     (on a lent GPU machine)
#   bash bench/gpu/adam.sh [OUT_DIR]                           (on a GPU box with the repo)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${1:-bench/out/gpu}
mkdir -p "$OUT"
t0=$(date +%s)
stamp() { echo "[$(($(date +%s) - t0)) s] $*"; }
status=0
for round in $(seq 1 "${ROUNDS:-2}"); do
  for adam in host tensor; do
    stamp "round $round, D2NWG_ADAM=$adam"
    D2NWG_ADAM=$adam D2NWG_BACKEND=webgpu timeout "${STEP_TIMEOUT:-100}" \
      node bin/d2nwg.mjs bench steps --workloads "${WORKLOADS:-standard}" --vae-epochs 1 \
      --diffusion-steps 30 --kernels --out "$OUT/steps-adam-$adam-round$round.json" 2>&1 |
      grep -v '^Warning: maxDynamic' || status=1
  done
done
stamp "done"
exit $status
