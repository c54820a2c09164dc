#!/usr/bin/env python3
"""Run the PyTorch module text of an export's manifest (conventions.pytorch) on raw inputs.

    torch_check.py X.npy Y.npy EXPORT_DIR...

Needs torch (not safetensors: the state dict is read with readback.py's NumPy parser and handed
to load_state_dict, strict). Prints {dir: {"accuracy": a}} as JSON.
"""
import json
import os
import sys
import types

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from readback import read_safetensors  # noqa: E402

# The snippet imports safetensors.torch; provide it from the NumPy reader.
st = types.ModuleType("safetensors")
st_torch = types.ModuleType("safetensors.torch")
st_torch.load_file = lambda path: {k: torch.from_numpy(v.copy()) for k, v in read_safetensors(path).items()}
st.torch = st_torch
sys.modules["safetensors"] = st
sys.modules["safetensors.torch"] = st_torch


def main():
    x = torch.from_numpy(np.load(sys.argv[1]).astype(np.float32))
    y = torch.from_numpy(np.load(sys.argv[2]).astype(np.int64))
    out = {}
    for folder in sys.argv[3:]:
        with open(os.path.join(folder, "manifest.json")) as f:
            manifest = json.load(f)
        scope = {}
        exec(manifest["conventions"]["pytorch"], scope)
        net = scope["Net"]()
        net.load_state_dict(st_torch.load_file(os.path.join(folder, "weights.safetensors")), strict=True)
        net.eval()
        with torch.no_grad():
            pred = net(x).argmax(dim=1)
        out[folder] = {"accuracy": float((pred == y).float().mean())}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
