#!/usr/bin/env bash
# One environment variable's settings against each other on webgpu, interleaved in one call:
# `bench steps --kernels` (kernels per step and steps/s) with AB_VAR set to each of AB_VALUES in
# turn, ROUNDS rounds. Results in OUT_DIR as steps-<tag>-<value>-round<r>.json. kernels.sh and
# adam.sh are the two prepared uses; call it directly for another switch, e.g.
#   AB_VAR=D2NWG_WEBGPU_DISPATCH_CACHE AB_VALUES="0 1" AB_TAG=caches bash bench/gpu/ab.sh OUT_DIR
# Knobs: WORKLOADS (default standard), VAE_EPOCHS (1), DIFFUSION_STEPS (30), STEP_TIMEOUT (100 s),
# KERNELS (1: also count kernels per step; 0 skips those extra runs).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${1:-bench/out/gpu}
: "${AB_VAR:?AB_VAR names the environment variable to switch}"
: "${AB_VALUES:?AB_VALUES lists its settings, space-separated}"
tag=${AB_TAG:-$AB_VAR}
mkdir -p "$OUT"
t0=$(date +%s)
stamp() { echo "[$(($(date +%s) - t0)) s] $*"; }
status=0
for round in $(seq 1 "${ROUNDS:-2}"); do
  for value in $AB_VALUES; do
    stamp "round $round, $AB_VAR=$value"
    env "$AB_VAR=$value" D2NWG_BACKEND=webgpu timeout "${STEP_TIMEOUT:-100}" \
      node bin/d2nwg.mjs bench steps --workloads "${WORKLOADS:-standard}" \
      --vae-epochs "${VAE_EPOCHS:-1}" --diffusion-steps "${DIFFUSION_STEPS:-30}" \
      $([ "${KERNELS:-1}" = 1 ] && echo --kernels) \
      --out "$OUT/steps-$tag-$value-round$round.json" 2>&1 |
      grep -v '^Warning: maxDynamic' || status=1
  done
done
stamp "done"
exit $status
