#!/usr/bin/env bash
# The WebGPU test suites (every test file whose name holds 'webgpu'), on software Vulkan (Mesa 25
# lavapipe, see scripts/lavapipe.sh) unless a real GPU's driver is already set up: pass
# D2NWG_WEBGPU_NATIVE=1 to skip the lavapipe set-up and use the system's Vulkan driver.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${D2NWG_WEBGPU_NATIVE:-0}" != 1 ]; then eval "$(scripts/lavapipe.sh)"; fi
export D2NWG_WEBGPU_TESTS=1
exec npx vitest run webgpu "$@"
