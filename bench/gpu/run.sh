#!/usr/bin/env bash
# WebGPU against wasm on one machine, in one go: doctor, the dispatch, matmul, training-step and
# zoo (model batch) benches, and `bench quality --preset $QUALITY_PRESET` (default smoke; standard on
# a GPU box with time), on each backend; then the webgpu test suites when vitest is installed.
# Results land in OUT_DIR (default bench/out/gpu) as JSON and logs.
#
#   bench/gpu/run.sh [OUT_DIR]
#
# On a GPU box with the repo installed (`npm ci` installs the optional webgpu packages), this is
# all there is to it. On a lent machine without network, bench/gpu/device.sh sets up Node and
# node_modules first, then calls this. Knobs: D2NWG_WEBGPU_FLAGS / D2NWG_WEBGPU_FEATURE_LEVEL pass
# through to Dawn; STEPS_ARGS and MATMUL_ARGS replace the bench arguments; SKIP_QUALITY=1 skips
# the two quality runs (the longest part); ZOO_ARGS replaces `bench zoo`'s (default: --quick
# --rounds 1); DISPATCH_WEBGPU_ARGS webgpu's `bench dispatch` extras (default --breakdown);
# QUALITY_PRESET picks the quality preset.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${1:-bench/out/gpu}
mkdir -p "$OUT"
t0=$(date +%s)
stamp() { echo "[$(($(date +%s) - t0)) s] $*"; }
d2nwg() { node bin/d2nwg.mjs "$@"; }
status=0
MATMUL_ARGS=${MATMUL_ARGS:---sizes 256,1024,2048 --reps 3}
STEPS_ARGS=${STEPS_ARGS:---workloads standard,large --vae-epochs 2 --diffusion-steps 60}
ZOO_ARGS=${ZOO_ARGS:---quick --rounds 1}
# webgpu's dispatch bench also times each Dawn call per op (--breakdown), caches off and on.
DISPATCH_WEBGPU_ARGS=${DISPATCH_WEBGPU_ARGS:---breakdown}
QUALITY_PRESET=${QUALITY_PRESET:-smoke}

for backend in webgpu wasm; do
  stamp "$backend: doctor"
  D2NWG_BACKEND=$backend d2nwg doctor --sizes 1024 --json >"$OUT/doctor-$backend.json" 2>"$OUT/doctor-$backend.err" ||
    { status=1; cat "$OUT/doctor-$backend.err"; }
  D2NWG_BACKEND=$backend d2nwg doctor --no-bench 2>&1 | grep -v '^Warning: maxDynamic' || status=1
done

# The quality runs take longest, so each goes in the background while the other backend's
# benches use the foreground: the wasm run beside the webgpu benches (CPU vs GPU), then the
# webgpu run beside the wasm benches. Timings of the benches are then taken with one
# background job on a different resource.
quality() { # backend
  D2NWG_BACKEND=$1 timeout "${QUALITY_TIMEOUT:-330}" node bin/d2nwg.mjs bench quality \
    --preset "$QUALITY_PRESET" --out "$OUT/quality-$QUALITY_PRESET-$1.json" \
    >"$OUT/quality-$QUALITY_PRESET-$1.log" 2>&1
  echo $? >"$OUT/quality-$QUALITY_PRESET-$1.rc"
}
[ "${SKIP_QUALITY:-0}" = 1 ] || { quality wasm & }
for backend in webgpu wasm; do
  if [ "$backend" = wasm ] && [ "${SKIP_QUALITY:-0}" != 1 ]; then quality webgpu & fi
  stamp "$backend: bench dispatch (µs per op; webgpu: dispatch caches off/on)"
  dargs=""
  [ "$backend" = webgpu ] && dargs=$DISPATCH_WEBGPU_ARGS
  # shellcheck disable=SC2086
  D2NWG_BACKEND=$backend timeout 120 node bin/d2nwg.mjs bench dispatch --out "$OUT/dispatch-$backend.json" $dargs 2>&1 |
    grep -v '^Warning: maxDynamic' || status=1
  stamp "$backend: bench matmul $MATMUL_ARGS"
  # shellcheck disable=SC2086
  D2NWG_BACKEND=$backend timeout 120 node bin/d2nwg.mjs bench matmul --out "$OUT/matmul-$backend.json" $MATMUL_ARGS 2>&1 |
    grep -v '^Warning: maxDynamic' || status=1
  stamp "$backend: bench steps $STEPS_ARGS"
  # shellcheck disable=SC2086
  D2NWG_BACKEND=$backend timeout 200 node bin/d2nwg.mjs bench steps --out "$OUT/steps-$backend.json" $STEPS_ARGS 2>&1 |
    grep -v '^Warning: maxDynamic' || status=1
  stamp "$backend: bench zoo $ZOO_ARGS"
  # shellcheck disable=SC2086
  D2NWG_BACKEND=$backend timeout 300 node bin/d2nwg.mjs bench zoo --out "$OUT/zoo-$backend.json" $ZOO_ARGS 2>&1 |
    grep -v '^Warning: maxDynamic' || status=1
done
stamp "waiting for the quality runs"
wait
for backend in wasm webgpu; do
  rc="$OUT/quality-$QUALITY_PRESET-$backend.rc"
  [ -f "$rc" ] || continue
  stamp "$backend: quality $QUALITY_PRESET exit $(cat "$rc")"
  tail -n 25 "$OUT/quality-$QUALITY_PRESET-$backend.log"
  [ "$(cat "$rc")" = 0 ] || status=1
done

if [ -x node_modules/.bin/vitest ]; then
  stamp "webgpu test suites"
  if [ "${D2NWG_WEBGPU_NATIVE:-0}" = 1 ]; then
    D2NWG_WEBGPU_TESTS=1 timeout 300 npx vitest run webgpu 2>&1 | tail -n 15 || status=1
  else
    timeout 300 bash scripts/test-webgpu.sh 2>&1 | tail -n 15 || status=1
  fi
else
  stamp "vitest not installed (production node_modules): test suites skipped"
fi
stamp "done, results in $OUT"
exit $status
