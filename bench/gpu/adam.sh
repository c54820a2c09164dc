#!/usr/bin/env bash
# Host Adam against tensor Adam (our fused kernel) on the GPU, interleaved in one call: the standard
# workloads, where makeAdam picks host Adam on a GPU (a readback of the gradients and an upload of
# the weights every step), with D2NWG_ADAM=host and =tensor, ROUNDS rounds (bench/gpu/ab.sh).
#
#   GPU_SCRIPT=bench/gpu/adam.sh bash bench/gpu/device.sh     (on a lent GPU machine)
#   bash bench/gpu/adam.sh [OUT_DIR]                           (on a GPU box with the repo)
AB_VAR=D2NWG_ADAM AB_VALUES="host tensor" AB_TAG=adam exec bash "$(dirname "$0")/ab.sh" "$@"
