#!/usr/bin/env bash
# Software Vulkan for the WebGPU tests: Mesa 25's lavapipe from Debian bookworm-backports, unpacked
# into a private folder (nothing is installed system-wide). Debian 12's own Mesa 22.3 lavapipe is
# refused by Dawn's Vulkan backend (it lacks dynamic-indexing features), hence backports.
#
#   eval "$(scripts/lavapipe.sh)"      prepares .cache/lavapipe once, then prints the exports
#                                      (VK_ICD_FILENAMES, LD_LIBRARY_PATH) for this shell
#
# Needs apt-get (to download .deb files) and dpkg-deb; no root needed for the unpacking itself.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD/.cache/lavapipe
LIB=$ROOT/root/usr/lib/x86_64-linux-gnu
ICD=$ROOT/lvp_icd.json

if [ "$(uname -m)" != x86_64 ]; then
  echo "lavapipe.sh: only x86_64 is handled (got $(uname -m))" >&2
  exit 1
fi

if [ ! -f "$ICD" ]; then
  mkdir -p "$ROOT/debs" "$ROOT/lists/partial" "$ROOT/root"
  printf 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-backports main\n' \
    >"$ROOT/sources.list"
  APT=(-o "Dir::Etc::SourceList=$ROOT/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$ROOT/lists" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  apt-get "${APT[@]}" update -qq >&2
  # lavapipe and the libdrm it was built against come from backports; the Vulkan loader from
  # bookworm. The rest are its runtime libraries, fetched only where the system lacks them.
  pkgs=(mesa-vulkan-drivers/bookworm-backports libdrm2/bookworm-backports
    libdrm-amdgpu1/bookworm-backports libvulkan1)
  for p in libllvm15 libelf1 libexpat1 libwayland-client0 libx11-6 libx11-xcb1 libxau6 libxdmcp6 \
    libxcb1 libxcb-dri3-0 libxcb-present0 libxcb-randr0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 \
    libxshmfence1 libzstd1 libedit2 libbsd0 libmd0 libffi8 libtinfo6 libxml2 libicu72 liblzma5; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || pkgs+=("$p")
  done
  (cd "$ROOT/debs" && apt-get "${APT[@]}" download "${pkgs[@]}" >&2)
  for f in "$ROOT"/debs/*.deb; do dpkg-deb -x "$f" "$ROOT/root"; done
  sed "s#\"library_path\": *\"[^\"]*\"#\"library_path\": \"$LIB/libvulkan_lvp.so\"#" \
    "$ROOT/root/usr/share/vulkan/icd.d/lvp_icd.json" >"$ICD.tmp"
  mv "$ICD.tmp" "$ICD"
fi

missing=$(LD_LIBRARY_PATH=$LIB ldd "$LIB/libvulkan_lvp.so" | grep 'not found' || true)
if [ -n "$missing" ]; then
  echo "lavapipe.sh: libvulkan_lvp.so still misses libraries:" >&2
  echo "$missing" >&2
  exit 1
fi
echo "export VK_ICD_FILENAMES=$ICD"
echo "export LD_LIBRARY_PATH=$LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
