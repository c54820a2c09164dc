#!/usr/bin/env bash
# Step graphs (kernels/webgpu-graph.ts) off and on, in one call on a GPU, with wasm beside them:
# - `bench quality --preset $QUALITY_PRESET` (default smoke) on wasm starts in the background;
# - `bench steps` on webgpu with D2NWG_WEBGPU_GRAPH=0 and =1 interleaved (ROUNDS rounds of the
#   standard workloads, LARGE_ROUNDS of the large ones, via ab.sh), and wasm's standard steps;
# - `bench zoo $ZOO_ARGS` (default --quick) on webgpu with graphs off and on;
# - the same quality run on webgpu (graphs on), while wasm's finishes.
#
#   GPU_SCRIPT=bench/gpu/graph.sh bash bench/gpu/device.sh     (on a lent GPU machine)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${1:-bench/out/gpu}
mkdir -p "$OUT"
t0=$(date +%s)
stamp() { echo "[$(($(date +%s) - t0)) s] $*"; }
QUALITY_PRESET=${QUALITY_PRESET:-smoke}
quality() { # backend
  D2NWG_BACKEND=$1 timeout "${QUALITY_TIMEOUT:-200}" node bin/d2nwg.mjs bench quality \
    --preset "$QUALITY_PRESET" --out "$OUT/quality-$QUALITY_PRESET-$1.json" \
    >"$OUT/quality-$QUALITY_PRESET-$1.log" 2>&1
  echo "exit $?" >>"$OUT/quality-$QUALITY_PRESET-$1.log"
}
[ "${SKIP_QUALITY:-0}" = 1 ] || { stamp "quality $QUALITY_PRESET on wasm (background)"; quality wasm & }
stamp "wasm steps"
D2NWG_BACKEND=wasm timeout "${STEP_TIMEOUT:-100}" node bin/d2nwg.mjs bench steps \
  --workloads standard --vae-epochs "${VAE_EPOCHS:-1}" --diffusion-steps "${DIFFUSION_STEPS:-30}" \
  --out "$OUT/steps-wasm.json" 2>&1 | grep -v '^Warning: maxDynamic'
stamp "webgpu steps, graphs off/on"
AB_VAR=D2NWG_WEBGPU_GRAPH AB_VALUES="0 1" AB_TAG=graph KERNELS=0 WORKLOADS=standard \
  bash bench/gpu/ab.sh "$OUT"
status=$?
if [ "${LARGE_ROUNDS:-1}" -gt 0 ]; then
  stamp "large workloads, graphs off/on"
  AB_VAR=D2NWG_WEBGPU_GRAPH AB_VALUES="0 1" AB_TAG=graph-large KERNELS=0 WORKLOADS=large \
    ROUNDS=${LARGE_ROUNDS:-1} bash bench/gpu/ab.sh "$OUT" || status=1
fi
if [ "${SKIP_ZOO:-0}" != 1 ]; then
  for g in 0 1; do
    stamp "webgpu zoo, D2NWG_WEBGPU_GRAPH=$g"
    D2NWG_WEBGPU_GRAPH=$g D2NWG_BACKEND=webgpu timeout 120 node bin/d2nwg.mjs bench zoo \
      ${ZOO_ARGS:---quick} --out "$OUT/zoo-webgpu-graph$g.json" 2>&1 | grep -v '^Warning: maxDynamic' | tail -n 12
  done
fi
if [ "${SKIP_QUALITY:-0}" != 1 ]; then
  stamp "quality $QUALITY_PRESET on webgpu (graphs on)"
  quality webgpu
  wait
  for b in webgpu wasm; do
    stamp "$b quality:"
    grep -v '^Warning: maxDynamic' "$OUT/quality-$QUALITY_PRESET-$b.log" | grep -E "done in|total|time_budget|exit|Error|error" | tail -n 60
  done
fi
stamp "done"
exit $status
