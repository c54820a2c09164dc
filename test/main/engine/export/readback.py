#!/usr/bin/env python3
"""Independent read-back of D2NWG weight exports, with NumPy only (no project code, no torch).

    readback.py X.npy Y.npy EXPORT_DIR...

X holds raw test inputs [n, D] (float32, e.g. pixel values 0..255), Y the labels in the task's
output order. For each export folder it loads manifest.json and either weights.safetensors
(parsed here: 8-byte little-endian header length, JSON header, raw little-endian data) or
model.onnx (parsed here: a minimal protobuf wire-format reader, then the graph's ops evaluated
with NumPy), runs the model on X, and prints one JSON object: {dir: {"accuracy": a, ...}}.
"""
import json
import os
import struct
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "I32": "<i4", "U8": "u1"}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    data = blob[8 + n :]
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        a, b = spec["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=DTYPES[spec["dtype"]]).reshape(spec["shape"])
        out[name] = arr.astype(np.float32)
    return out


def activation(kind, x):
    if kind == "leaky_relu":
        return np.where(x >= 0, x, np.float32(0.01) * x).astype(np.float32)
    if kind == "relu":
        return np.maximum(x, np.float32(0))
    return np.tanh(x)


def same_pads(n, k, stride=2):
    total = max((-(-n // stride) - 1) * stride + k - n, 0)
    return total // 2, total - total // 2


def conv2d_nchw(x, w, b, stride, pads):
    """x [n, c, h, w]; w [o, c, kh, kw]; pads (top, left, bottom, right)."""
    pt, pl, pb, pr = pads
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh = (h - kh) // stride + 1
    ow = (wd - kw) // stride + 1
    out = np.zeros((n, o, oh, ow), dtype=np.float32)
    for y in range(kh):
        for z in range(kw):
            patch = x[:, :, y : y + stride * oh : stride, z : z + stride * ow : stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, y, z]).astype(np.float32)
    return out + b.reshape(1, -1, 1, 1)


def run_safetensors(folder, manifest, x):
    t = read_safetensors(os.path.join(folder, "weights.safetensors"))
    h = x.astype(np.float32)
    if manifest["input"].get("raw"):
        h = h * t["features.input_scale"]
        if "features.mean" in t:
            h = h - t["features.mean"]
        if "features.basis" in t:
            h = h @ t["features.basis"]
        if "features.scale" in t:
            h = h * t["features.scale"]
    arch = manifest["architecture"]
    if arch["kind"] == "mlp":
        i = 0
        while f"layers.{i}.weight" in t:
            h = h @ t[f"layers.{i}.weight"].T + t[f"layers.{i}.bias"]
            i += 1
            if f"layers.{i}.weight" in t:
                h = activation(arch["activation"], h)
        return h
    hh, ww, cc = arch["inputShape"]
    h = h.reshape(-1, hh, ww, cc).transpose(0, 3, 1, 2)
    i = 0
    while f"convs.{i}.weight" in t:
        w = t[f"convs.{i}.weight"]
        k = w.shape[2]
        pt, pb = same_pads(h.shape[2], k)
        pl, pr = same_pads(h.shape[3], k)
        h = activation(arch["activation"], conv2d_nchw(h, w, t[f"convs.{i}.bias"], 2, (pt, pl, pb, pr)))
        i += 1
    h = h.mean(axis=(2, 3))
    return h @ t["head.weight"].T + t["head.bias"]


# --- ONNX: protobuf wire format -------------------------------------------------------------


def varint(buf, i):
    shift = 0
    v = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def fields(buf):
    """Yield (field number, wire type, value) of one message; value is int, bytes or float."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(buf, i)
        elif wire == 1:
            v = buf[i : i + 8]
            i += 8
        elif wire == 2:
            n, i = varint(buf, i)
            v = buf[i : i + n]
            i += n
        elif wire == 5:
            (v,) = struct.unpack("<f", buf[i : i + 4])
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield num, wire, v


def signed64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def parse_tensor(buf):
    dims, dtype, name, raw = [], None, None, b""
    floats = []
    for num, wire, v in fields(buf):
        if num == 1:
            if wire == 2:  # packed
                j = 0
                while j < len(v):
                    d, j = varint(v, j)
                    dims.append(signed64(d))
            else:
                dims.append(signed64(v))
        elif num == 2:
            dtype = v
        elif num == 8:
            name = v.decode()
        elif num == 9:
            raw = bytes(v)
        elif num == 4:
            floats.append(v)
    np_dtype = {1: "<f4", 7: "<i8"}[dtype]
    arr = np.frombuffer(raw, dtype=np_dtype) if raw else np.array(floats, dtype=np_dtype)
    return name, arr.reshape(dims)


def parse_attr(buf):
    name, val, ints = None, None, []
    for num, wire, v in fields(buf):
        if num == 1:
            name = v.decode()
        elif num == 2:
            val = v
        elif num == 3:
            val = signed64(v)
        elif num == 8:
            if wire == 2:
                j = 0
                while j < len(v):
                    d, j = varint(v, j)
                    ints.append(signed64(d))
            else:
                ints.append(signed64(v))
    return name, (ints if ints else val)


def parse_node(buf):
    node = {"inputs": [], "outputs": [], "op": None, "attrs": {}}
    for num, _, v in fields(buf):
        if num == 1:
            node["inputs"].append(v.decode())
        elif num == 2:
            node["outputs"].append(v.decode())
        elif num == 4:
            node["op"] = v.decode()
        elif num == 5:
            k, a = parse_attr(v)
            node["attrs"][k] = a
    return node


def value_info_name(buf):
    for num, _, v in fields(buf):
        if num == 1:
            return v.decode()


def parse_onnx(path):
    with open(path, "rb") as f:
        buf = f.read()
    model = {"opset": None, "ir_version": None}
    graph = None
    for num, _, v in fields(buf):
        if num == 1:
            model["ir_version"] = v
        elif num == 7:
            graph = v
        elif num == 8:
            for n2, _, v2 in fields(v):
                if n2 == 2:
                    model["opset"] = v2
    nodes, inits, inputs, outputs = [], {}, [], []
    for num, _, v in fields(graph):
        if num == 1:
            nodes.append(parse_node(v))
        elif num == 5:
            name, arr = parse_tensor(v)
            inits[name] = arr
        elif num == 11:
            inputs.append(value_info_name(v))
        elif num == 12:
            outputs.append(value_info_name(v))
    model.update(nodes=nodes, inits=inits, inputs=inputs, outputs=outputs)
    return model


def run_onnx(folder, x):
    m = parse_onnx(os.path.join(folder, "model.onnx"))
    assert m["ir_version"] == 8 and m["opset"] == 13, (m["ir_version"], m["opset"])
    env = dict(m["inits"])
    env[m["inputs"][0]] = x.astype(np.float32)
    for n in m["nodes"]:
        a = [env[i] for i in n["inputs"]]
        at = n["attrs"]
        op = n["op"]
        if op == "Mul":
            r = a[0] * a[1]
        elif op == "Sub":
            r = a[0] - a[1]
        elif op == "Add":
            r = a[0] + a[1]
        elif op == "MatMul":
            r = a[0] @ a[1]
        elif op == "Gemm":
            A = a[0].T if at.get("transA", 0) else a[0]
            B = a[1].T if at.get("transB", 0) else a[1]
            r = np.float32(at.get("alpha", 1.0)) * (A @ B)
            if len(a) > 2:
                r = r + np.float32(at.get("beta", 1.0)) * a[2]
        elif op == "Relu":
            r = np.maximum(a[0], np.float32(0))
        elif op == "LeakyRelu":
            alpha = np.float32(at.get("alpha", 0.01))
            r = np.where(a[0] >= 0, a[0], alpha * a[0])
        elif op == "Tanh":
            r = np.tanh(a[0])
        elif op == "Reshape":
            r = a[0].reshape([int(d) for d in a[1]])
        elif op == "Transpose":
            r = a[0].transpose(at["perm"])
        elif op == "Conv":
            s = at.get("strides", [1, 1])
            assert s[0] == s[1]
            r = conv2d_nchw(a[0], a[1], a[2], s[0], at.get("pads", [0, 0, 0, 0]))
        elif op == "ReduceMean":
            r = a[0].mean(axis=tuple(at["axes"]), keepdims=bool(at.get("keepdims", 1)))
        else:
            raise ValueError(f"op {op} not supported by this reader")
        env[n["outputs"][0]] = np.asarray(r, dtype=np.float32)
    return env[m["outputs"][0]]


def main():
    x = np.load(sys.argv[1]).astype(np.float32)
    y = np.load(sys.argv[2]).astype(np.int64)
    result = {}
    for folder in sys.argv[3:]:
        with open(os.path.join(folder, "manifest.json")) as f:
            manifest = json.load(f)
        if os.path.exists(os.path.join(folder, "model.onnx")):
            logits = run_onnx(folder, x)
            kind = "onnx"
        else:
            logits = run_safetensors(folder, manifest, x)
            kind = "safetensors"
        pred = logits.argmax(axis=1)
        result[folder] = {
            "kind": kind,
            "accuracy": float((pred == y).mean()),
            "manifestAccuracy": manifest.get("accuracy"),
            "classNames": manifest.get("classNames"),
            "logits0": [float(v) for v in logits[0]],
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
