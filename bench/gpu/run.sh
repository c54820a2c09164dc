#!/usr/bin/env bash
# Run on a machine with a real GPU: doctor, the matmul bench (and the zoo/quality benches when they
# are registered) on webgpu and on wasm, then the opt-in webgpu correctness tests, in one go.
#
#   bench/gpu/run.sh [OUT_DIR]          (default bench/out/gpu)
#
# The webgpu packages are not project dependencies. They are taken from the project if installed
# (npm i -D webgpu @tensorflow/tfjs-backend-webgpu@4.22.0), else from $D2NWG_WEBGPU_PATH, else
# installed once into a scratch folder outside the repo. Extra knobs passed through unchanged:
# D2NWG_WEBGPU_FLAGS (Dawn toggles, e.g. backend=opengles), D2NWG_WEBGPU_FEATURE_LEVEL.
# BENCHES="matmul zoo" limits which benches run; MATMUL_ARGS (e.g. "--sizes 512 --reps 3") is
# passed to the matmul bench.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${1:-bench/out/gpu}
mkdir -p "$OUT"

if ! node -e "import('webgpu').then(()=>process.exit(0),()=>process.exit(1))" 2>/dev/null &&
  [ -z "${D2NWG_WEBGPU_PATH:-}" ]; then
  export D2NWG_WEBGPU_PATH=${TMPDIR:-/tmp}/d2nwg-webgpu
  if [ ! -d "$D2NWG_WEBGPU_PATH/node_modules/webgpu" ]; then
    echo "installing webgpu packages into $D2NWG_WEBGPU_PATH"
    mkdir -p "$D2NWG_WEBGPU_PATH"
    (cd "$D2NWG_WEBGPU_PATH" && npm init -y >/dev/null &&
      npm i --no-audit --no-fund webgpu @tensorflow/tfjs-backend-webgpu@4.22.0) || exit 1
  fi
  # One tfjs-core for the app and the webgpu backend: point the scratch copy at the project's.
  for p in tfjs-core tfjs; do
    if [ -d "node_modules/@tensorflow/$p" ]; then
      rm -rf "$D2NWG_WEBGPU_PATH/node_modules/@tensorflow/$p"
      ln -s "$PWD/node_modules/@tensorflow/$p" "$D2NWG_WEBGPU_PATH/node_modules/@tensorflow/$p"
    fi
  done
fi

known=$(node bin/d2nwg.mjs bench --list-none 2>&1 | sed -n 's/.*known: //p')
BENCHES=${BENCHES:-$(echo "$known" | tr -d ',')}
status=0
for backend in webgpu wasm; do
  echo "== $backend: doctor"
  D2NWG_BACKEND=$backend node bin/d2nwg.mjs doctor | tee "$OUT/doctor-$backend.txt" || status=1
  for b in $BENCHES; do
    echo "== $backend: bench $b"
    extra=()
    if [ "$b" = matmul ] && [ -n "${MATMUL_ARGS:-}" ]; then read -r -a extra <<<"$MATMUL_ARGS"; fi
    D2NWG_BACKEND=$backend node bin/d2nwg.mjs bench "$b" --out "$OUT/$b-$backend.json" "${extra[@]}" ||
      status=1
  done
done
echo "== webgpu correctness tests"
D2NWG_WEBGPU_TESTS=1 npx vitest run test/main/engine/backend-webgpu.test.ts || status=1
echo "results in $OUT"
exit $status
