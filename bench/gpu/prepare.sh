#!/usr/bin/env bash
# Build the archives bench/gpu/device.sh needs on a GPU machine without network access:
#   .gpu/nm.tar.xz  production node_modules (npm ci --omit=dev), pruned to what Node loads on
#                   linux-x64: each @tensorflow package's Node entry file and wasm binaries, Dawn's
#                   linux-x64 binary, better-sqlite3's compiled addon (about 12 MB compressed)
#   .gpu/node.xz    this machine's Node binary (about 24 MB compressed)
#   .gl/*.deb       libvulkan1 and the GL/EGL dispatch libraries from Debian (amd64)
# Both folders are for the device call's `carry` and must stay out of git (.git/info/exclude).
# Run from anywhere on an x86_64 Linux machine with npm and apt-get.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
[ "$(uname -m)" = x86_64 ] || { echo "prepare.sh: x86_64 only" >&2; exit 1; }
for d in .gpu .gl; do grep -qx "/$d/" .git/info/exclude 2>/dev/null || echo "/$d/" >>.git/info/exclude; done
mkdir -p .gpu .gl

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp package.json package-lock.json .npmrc "$work/"
(cd "$work" && npm ci --omit=dev --no-audit --no-fund)
nm=$work/node_modules
rm -rf "$nm/@types" "$nm/@tensorflow/tfjs/src" "$nm/webgpu/build"
find "$nm/webgpu/dist" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
for d in "$nm"/@tensorflow/*; do
  main=$(node -p "require('$d/package.json').main")
  find "$d/dist" -mindepth 1 -maxdepth 1 ! -name "$(basename "$main")" ! -name '*.wasm' \
    ! -name '*.worker.js' -exec rm -rf {} +
done
(cd "$nm/better-sqlite3" && rm -rf deps src build/deps build/Release/obj* build/Release/.deps \
  build/Release/sqlite3.a build/Release/test_extension.node)
tar -C "$work" -cJf "$REPO/.gpu/nm.tar.xz" node_modules
xz -T0 -9 -c "$(command -v node)" >"$REPO/.gpu/node.xz"

mkdir -p "$work/lists/partial"
o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$work/lists")
apt-get "${o[@]}" update -qq
(cd .gl && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
du -sh .gpu/* .gl
