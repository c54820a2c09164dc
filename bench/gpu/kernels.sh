#!/usr/bin/env bash
# Our webgpu kernels (src/main/engine/kernels/webgpu.ts) off and on, interleaved in one call:
# `bench steps --kernels` on the large workload (tensor Adam, where the fused Adam and EMA kernels
# apply), kernels per step and steps/s, ROUNDS rounds of (off, on) (bench/gpu/ab.sh).
#
#   GPU_SCRIPT=bench/gpu/kernels.sh bash bench/gpu/device.sh     (on a lent GPU machine)
#   bash bench/gpu/kernels.sh [OUT_DIR]                           (on a GPU box with the repo)
AB_VAR=D2NWG_WEBGPU_KERNELS AB_VALUES="0 1" AB_TAG=kernels WORKLOADS=${WORKLOADS:-large} \
  DIFFUSION_STEPS=${DIFFUSION_STEPS:-10} exec bash "$(dirname "$0")/ab.sh" "$@"
