#!/usr/bin/env bash
# One prepared run on a lent GPU machine (no network there): set up Node, the production
# node_modules and the Vulkan loader from carried archives, then run bench/gpu/run.sh, writing
# everything under $OUT (or bench/out/gpu).
#
# Prepared here, on a machine with the registries (see bench/gpu/README.md):
#   .gpu/node.xz      this machine's Node 20 binary, xz-compressed (if the GPU image lacks Node 20)
#   .gpu/nm.tar.xz    `npm ci --omit=dev` node_modules, pruned to linux-x64 and Node's entry files
#   .gl/*.deb         libvulkan1 and the GL/EGL dispatch libraries (Debian amd64)
# Then the device call carries [".gpu", ".gl"] and runs `bash bench/gpu/device.sh`.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# The device tool returns at most 8 files from $OUT: results go to $OUT/r and are packed into
# $OUT/gpu-results.tgz at the end (also when the run is cut short by RUN_TIMEOUT).
DEST=${OUT:-bench/out}
OUT=$DEST/r
mkdir -p "$OUT"
exec > >(tee "$OUT/device.log") 2>&1
t0=$(date +%s)
stamp() { echo "[$(($(date +%s) - t0)) s] $*"; }

stamp "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$OUT/nvidia-smi.txt"
nproc

if [ -d .gl ] && ! ldconfig -p | grep -q libvulkan.so.1; then
  stamp "unpacking the Vulkan loader and GL dispatch libraries"
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
icd=""
for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
  /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$f" ]; then icd=$f; break; fi
done
if [ -n "$icd" ]; then
  export VK_DRIVER_FILES=$icd
  stamp "Vulkan ICD: $icd"
else
  stamp "no NVIDIA Vulkan ICD file found; Dawn will search the default paths"
fi

# xz may be missing from a minimal image; Python's lzma reads the same files.
unxz_to() { # archive destination
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" >"$2"; else
    python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}
node_ok() { command -v node >/dev/null 2>&1 && node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; }
if ! node_ok; then
  if [ -f .gpu/node.xz ]; then
    mkdir -p /tmp/node/bin
    unxz_to .gpu/node.xz /tmp/node/bin/node && chmod +x /tmp/node/bin/node
    export PATH=/tmp/node/bin:$PATH
  fi
fi
node_ok || { stamp "no Node 20 here and none carried"; exit 1; }
stamp "node $(node -v) at $(command -v node)"
if [ ! -d node_modules/@tensorflow/tfjs ]; then
  [ -f .gpu/nm.tar.xz ] || { stamp "no node_modules and no .gpu/nm.tar.xz"; exit 1; }
  unxz_to .gpu/nm.tar.xz /tmp/nm.tar && tar -xf /tmp/nm.tar && rm -f /tmp/nm.tar
fi
stamp "setup done"
# GPU_SCRIPT picks another prepared script of this folder (default run.sh), called with OUT_DIR.
script=${GPU_SCRIPT:-bench/gpu/run.sh}
D2NWG_WEBGPU_NATIVE=1 timeout "${RUN_TIMEOUT:-520}" bash "$script" "$OUT"
rc=$?
stamp "$script exit $rc"
tar -czf "$DEST/gpu-results.tgz" -C "$DEST" r && rm -rf "$OUT"
exit $rc
