#!/usr/bin/env bash
# Step graphs (kernels/webgpu-graph.ts) off and on, in one call on a GPU: `bench steps` on webgpu
# with D2NWG_WEBGPU_GRAPH=0 and =1 interleaved (ROUNDS rounds of the standard workloads, then
# LARGE_ROUNDS of the large ones, via ab.sh), wasm's
# steps on the same host beside them, then `bench quality --preset $QUALITY_PRESET` (default
# smoke) on webgpu with graphs on and on wasm at once, for the results side by side.
#
#   GPU_SCRIPT=bench/gpu/graph.sh bash bench/gpu/device.sh     (on a lent GPU machine)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${1:-bench/out/gpu}
mkdir -p "$OUT"
t0=$(date +%s)
stamp() { echo "[$(($(date +%s) - t0)) s] $*"; }
QUALITY_PRESET=${QUALITY_PRESET:-smoke}
wasm_steps() {
  D2NWG_BACKEND=wasm timeout "${STEP_TIMEOUT:-100}" node bin/d2nwg.mjs bench steps \
    --workloads "${WASM_WORKLOADS:-standard}" --vae-epochs "${VAE_EPOCHS:-1}" \
    --diffusion-steps "${DIFFUSION_STEPS:-30}" --out "$OUT/steps-wasm.json" >"$OUT/steps-wasm.log" 2>&1
}
stamp "wasm steps (background) and webgpu steps, graphs off/on"
wasm_steps &
AB_VAR=D2NWG_WEBGPU_GRAPH AB_VALUES="0 1" AB_TAG=graph KERNELS=0 WORKLOADS=standard \
  bash bench/gpu/ab.sh "$OUT"
status=$?
if [ "${LARGE_ROUNDS:-1}" -gt 0 ]; then
  stamp "large workloads, graphs off/on"
  AB_VAR=D2NWG_WEBGPU_GRAPH AB_VALUES="0 1" AB_TAG=graph-large KERNELS=0 WORKLOADS=large \
    ROUNDS=${LARGE_ROUNDS:-1} bash bench/gpu/ab.sh "$OUT" || status=1
fi
wait
cat "$OUT/steps-wasm.log"
if [ "${SKIP_QUALITY:-0}" != 1 ]; then
  stamp "quality $QUALITY_PRESET on webgpu (graphs on) and wasm at once"
  for b in webgpu wasm; do
    D2NWG_BACKEND=$b timeout "${QUALITY_TIMEOUT:-200}" node bin/d2nwg.mjs bench quality \
      --preset "$QUALITY_PRESET" --out "$OUT/quality-$QUALITY_PRESET-$b.json" \
      >"$OUT/quality-$QUALITY_PRESET-$b.log" 2>&1 &
  done
  wait
  for b in webgpu wasm; do
    stamp "$b quality:"
    grep -v '^Warning: maxDynamic' "$OUT/quality-$QUALITY_PRESET-$b.log" | tail -n 30
  done
fi
stamp "done"
exit $status
