#!/usr/bin/env bash
# The standard zoo built by the engine as it was when the batched-engine issue was filed (commit
# 0f345b9: one model at a time, ~40 tfjs ops a step) and by this checkout (model batches), in
# interleaved rounds on the same machine, 1 and 2 worker threads each. Writes
# bench/out/zoo-then-now.json: training seconds per round, medians, the ratio then/now, and the
# zoos' mean test accuracy (the two builds train the same runs with the same seeds).
#
#   bash bench/zoo-then-now.sh [ROUNDS]     (default 3; needs git history and node_modules)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
THEN=0f345b9
ROUNDS=${1:-3}
WORK=$(mktemp -d)
trap 'git -C "$ROOT" worktree remove --force "$WORK/then" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
git -C "$ROOT" worktree add --detach -q "$WORK/then" "$THEN"
ln -s "$ROOT/node_modules" "$WORK/then/node_modules"
cfg() { # the standard quality preset's zoo with N worker threads, from this checkout's presets
  (cd "$ROOT" && npx tsx -e "import { standardZooConfig } from './src/main/engine/zoo/bench.ts'; console.log(JSON.stringify(standardZooConfig($1)))")
}
cfg 1 > "$WORK/zoo1.json"
cfg 2 > "$WORK/zoo2.json"
rows=()
for r in $(seq "$ROUNDS"); do
  for w in 1 2; do
    for v in then now; do
      dir=$ROOT; [ "$v" = then ] && dir=$WORK/then
      rm -rf "$WORK/out"
      if ! (cd "$dir" && node bin/d2nwg.mjs zoo build --config "$WORK/zoo$w.json" --out "$WORK/out" >"$WORK/log" 2>&1); then
        cat "$WORK/log" >&2
        exit 1
      fi
      line=$(node -e "const m=require('$WORK/out/manifest.json');const a=m.members.reduce((s,x)=>s+x.testAcc,0)/m.members.length;console.log(JSON.stringify({round:$r,workers:$w,engine:'$v',train:m.timings.train,testAcc:a}))")
      echo "$line"
      rows+=("$line")
    done
  done
done
mkdir -p "$ROOT/bench/out"
printf '%s\n' "${rows[@]}" | node -e "
const rows = require('fs').readFileSync(0, 'utf8').trim().split('\n').map(JSON.parse);
const med = (xs) => { const s = [...xs].sort((a, b) => a - b), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const out = { bench: 'zoo-then-now', then: '$THEN', date: new Date().toISOString(), rounds: $ROUNDS, rows, medians: {} };
for (const w of [1, 2]) {
  const t = med(rows.filter((r) => r.workers === w && r.engine === 'then').map((r) => r.train));
  const n = med(rows.filter((r) => r.workers === w && r.engine === 'now').map((r) => r.train));
  out.medians[w + ' worker' + (w > 1 ? 's' : '')] = { thenSeconds: t, nowSeconds: n, ratio: t / n };
}
const best = Math.min(out.medians['1 worker'].nowSeconds, out.medians['2 workers'].nowSeconds);
out.nowBestOverThen1Worker = out.medians['1 worker'].thenSeconds / best;
require('fs').writeFileSync('$ROOT/bench/out/zoo-then-now.json', JSON.stringify(out, null, 1) + '\n');
console.log(JSON.stringify(out.medians), 'now (best) over then (1 worker):', out.nowBestOverThen1Worker.toFixed(1) + 'x');
"
