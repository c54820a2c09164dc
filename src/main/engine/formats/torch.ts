/**
 * PyTorch `.pt` / `.pth` files (torch.save's zip format, PyTorch ≥ 1.6) read without Python:
 * the zip is opened by formats/zip.ts, `<top>/data.pkl` is unpickled by the restricted unpickler
 * (formats/pickle.ts) with only the globals a state dict needs, and each tensor is rebuilt from
 * `<top>/data/<key>` with its storage offset and strides into a contiguous row-major Float32Array.
 * Nested checkpoints ({'state_dict': …}, {'model': …}, DataParallel's 'module.' prefix) are
 * unwrapped into one flat map name → tensor. Nothing in the file is ever executed.
 */
import * as fsp from 'node:fs/promises';
import { InputError } from '../errors.ts';
import { bf16ToNumber, f16ToNumber } from './safetensors.ts';
import { looksLikeZip, openZip } from './zip.ts';
import { PyDict, PyGlobal, PyObject, PyTuple, unpickle, type PyValue } from './pickle.ts';
import { errorMessage } from '../../../shared/errors.ts';

/** One tensor of a state dict, as float32 in row-major (C) order. */
export interface NamedTensor {
  readonly shape: number[];
  readonly data: Float32Array;
  /** The PyTorch dtype it was stored as, e.g. 'float16'. */
  readonly dtype: string;
}

/** Largest .pt file read (2 GiB): a state dict for models this app trains is far smaller. */
export const MAX_TORCH_FILE_BYTES = 2 * 1024 ** 3;

interface StorageType {
  readonly dtype: string;
  readonly bytes: number;
  readonly read: (view: DataView, at: number) => number;
}

const STORAGES: Record<string, StorageType> = {
  FloatStorage: { dtype: 'float32', bytes: 4, read: (v, at) => v.getFloat32(at, true) },
  DoubleStorage: { dtype: 'float64', bytes: 8, read: (v, at) => v.getFloat64(at, true) },
  HalfStorage: { dtype: 'float16', bytes: 2, read: (v, at) => f16ToNumber(v.getUint16(at, true)) },
  BFloat16Storage: {
    dtype: 'bfloat16',
    bytes: 2,
    read: (v, at) => bf16ToNumber(v.getUint16(at, true)),
  },
  LongStorage: { dtype: 'int64', bytes: 8, read: (v, at) => Number(v.getBigInt64(at, true)) },
  IntStorage: { dtype: 'int32', bytes: 4, read: (v, at) => v.getInt32(at, true) },
  ShortStorage: { dtype: 'int16', bytes: 2, read: (v, at) => v.getInt16(at, true) },
  CharStorage: { dtype: 'int8', bytes: 1, read: (v, at) => v.getInt8(at) },
  ByteStorage: { dtype: 'uint8', bytes: 1, read: (v, at) => v.getUint8(at) },
  BoolStorage: { dtype: 'bool', bytes: 1, read: (v, at) => (v.getUint8(at) ? 1 : 0) },
};

interface Storage {
  readonly type: StorageType;
  readonly key: string;
  readonly numel: number;
}

/** A tensor before its values are read: kept opaque inside the unpickled structure. */
interface TensorRef {
  readonly storage: Storage;
  readonly offset: number;
  readonly shape: number[];
  readonly stride: number[];
}

const REBUILD_TENSOR = 'torch._utils._rebuild_tensor_v2';
const REBUILD_PARAMETER = 'torch._utils._rebuild_parameter';
const ORDERED_DICT = 'collections.OrderedDict';

/** Keys under which training scripts nest the state dict, tried in this order. */
const WRAPPER_KEYS = ['state_dict', 'model_state_dict', 'model', 'net', 'network', 'params'];

function intTuple(v: PyValue, what: string, where: string): number[] {
  if (!(v instanceof PyTuple)) throw new InputError(`${what} is not a tuple`, where);
  return v.items.map((d) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new InputError(`${what} holds ${String(d)}, not a non-negative integer`, where);
    }
    return d;
  });
}

function isTensor(v: PyValue): v is PyObject {
  return v instanceof PyObject && (v.value as { kind?: string }).kind === 'tensor';
}

function tensorOf(v: PyObject): TensorRef {
  return (v.value as { ref: TensorRef }).ref;
}

/** Read every tensor of an unpickled value, with dotted names (dict keys joined by '.'). */
function collectTensors(value: PyValue, prefix: string, out: Map<string, TensorRef>): void {
  if (isTensor(value)) {
    out.set(prefix, tensorOf(value));
  } else if (value instanceof PyDict) {
    for (const [k, v] of value.map) {
      collectTensors(v, prefix ? `${prefix}.${String(k)}` : String(k), out);
    }
  }
}

/** The state dict inside a checkpoint: the first wrapper key holding tensors, else the top. */
function unwrap(value: PyValue): PyValue {
  let cur = value;
  for (;;) {
    if (!(cur instanceof PyDict)) return cur;
    const dict = cur;
    const inner = WRAPPER_KEYS.map((k) => dict.map.get(k)).find((v) => {
      if (!(v instanceof PyDict)) return false;
      const found = new Map<string, TensorRef>();
      collectTensors(v, '', found);
      return found.size > 0;
    });
    if (inner === undefined) return cur;
    cur = inner;
  }
}

/** Parse a torch.save zip held in memory; `file` names it in errors. */
export function decodeTorchStateDict(bytes: Uint8Array, file: string): Map<string, NamedTensor> {
  if (!looksLikeZip(bytes)) {
    throw new InputError(
      bytes.length >= 2 && bytes[0] === 0x80
        ? 'a PyTorch file in the legacy (pre-1.6) format; re-save it with torch.save in PyTorch ≥ 1.6 (the zip format)'
        : 'not a PyTorch .pt/.pth file (torch.save writes a zip archive)',
      file,
    );
  }
  const zip = openZip(bytes, file, { maxEntryBytes: MAX_TORCH_FILE_BYTES });
  const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    throw new InputError(
      pkls.length === 0
        ? 'no <name>/data.pkl entry: not a torch.save archive'
        : `${pkls.length} data.pkl entries; expected one`,
      file,
    );
  }
  const top = pkls[0].slice(0, -'/data.pkl'.length);
  const where = `${file} (${pkls[0]})`;
  const storages = new Map<string, Storage>();

  const persistentLoad = (pid: PyValue): PyValue => {
    if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length < 5) {
      throw new InputError('a persistent id that is not a tensor storage', where);
    }
    const [, type, key, , numel] = pid.items;
    if (!(type instanceof PyGlobal) || type.module !== 'torch' || !(type.name in STORAGES)) {
      throw new InputError('a storage of an unsupported type', where);
    }
    if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) {
      throw new InputError(`a storage key ${JSON.stringify(key)} that is not a plain name`, where);
    }
    if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
      throw new InputError(`storage '${key}' has an invalid element count`, where);
    }
    const st = STORAGES[type.name];
    const prior = storages.get(key);
    if (prior && (prior.type !== st || prior.numel !== numel)) {
      throw new InputError(`storage '${key}' is named with two different types or sizes`, where);
    }
    const storage: Storage = prior ?? { type: st, key, numel };
    storages.set(key, storage);
    return new PyObject({ kind: 'storage', storage });
  };

  const rebuildTensor = (args: PyValue[]): PyValue => {
    const [st, offset, size, stride] = args;
    if (!(st instanceof PyObject) || (st.value as { kind?: string }).kind !== 'storage') {
      throw new InputError(`${REBUILD_TENSOR} without a storage`, where);
    }
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      throw new InputError(`${REBUILD_TENSOR} with an invalid storage offset`, where);
    }
    const storage = (st.value as { storage: Storage }).storage;
    const shape = intTuple(size, 'a tensor size', where);
    const strides = intTuple(stride, 'a tensor stride', where);
    if (strides.length !== shape.length) {
      throw new InputError('a tensor whose size and stride differ in length', where);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    const last =
      count === 0 ? offset : offset + shape.reduce((a, d, i) => a + (d - 1) * strides[i], 0);
    if (count > 0 && last >= storage.numel) {
      throw new InputError(
        `a tensor of shape [${shape.join(', ')}] reaches element ${last} of storage '${storage.key}', which has ${storage.numel}`,
        where,
      );
    }
    const ref: TensorRef = { storage, offset, shape, stride: strides };
    return new PyObject({ kind: 'tensor', ref });
  };

  const globals = new Map<string, (args: PyValue[]) => PyValue>([
    [REBUILD_TENSOR, rebuildTensor],
    [
      REBUILD_PARAMETER,
      (args) => {
        if (!isTensor(args[0] ?? null))
          throw new InputError(`${REBUILD_PARAMETER} without a tensor`, where);
        return args[0];
      },
    ],
    [
      ORDERED_DICT,
      (args) => {
        if (args.length > 0) throw new InputError(`${ORDERED_DICT} called with arguments`, where);
        return new PyDict();
      },
    ],
  ]);
  const names = new Set(Object.keys(STORAGES).map((s) => `torch.${s}`));
  const root = unpickle(zip.read(pkls[0]), { globals, names, persistentLoad, where });

  const refs = new Map<string, TensorRef>();
  collectTensors(unwrap(root), '', refs);
  if (refs.size === 0) throw new InputError('holds no tensors: not a state dict', file);
  let renamed = [...refs];
  while (renamed.every(([n]) => n.startsWith('module.'))) {
    renamed = renamed.map(([n, r]) => [n.slice('module.'.length), r]);
  }

  const blobs = new Map<string, DataView>();
  const blob = (s: Storage): DataView => {
    const name = `${top}/data/${s.key}`;
    let v = blobs.get(name);
    if (!v) {
      const b = zip.read(name);
      if (b.length < s.numel * s.type.bytes) {
        throw new InputError(
          `storage '${s.key}' has ${b.length} bytes, its ${s.numel} ${s.type.dtype} values need ${s.numel * s.type.bytes}`,
          file,
        );
      }
      v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      blobs.set(name, v);
    }
    return v;
  };

  const out = new Map<string, NamedTensor>();
  for (const [name, ref] of renamed) {
    const view = blob(ref.storage);
    const { shape, stride, offset } = ref;
    const { bytes: size, read } = ref.storage.type;
    const count = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    let expect = 1;
    let contiguous = true;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (shape[d] > 1 && stride[d] !== expect) contiguous = false;
      expect *= shape[d];
    }
    if (contiguous) {
      for (let i = 0; i < count; i++) data[i] = read(view, (offset + i) * size);
      out.set(name, { shape: [...shape], data, dtype: ref.storage.type.dtype });
      continue;
    }
    const idx = new Array<number>(shape.length).fill(0);
    for (let i = 0; i < count; i++) {
      let e = offset;
      for (let d = 0; d < shape.length; d++) e += idx[d] * stride[d];
      data[i] = read(view, e * size);
      for (let d = shape.length - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
    out.set(name, { shape: [...shape], data, dtype: ref.storage.type.dtype });
  }
  return out;
}

/** Read a `.pt` / `.pth` state dict from disk (see decodeTorchStateDict). */
export async function readTorchStateDict(file: string): Promise<Map<string, NamedTensor>> {
  let bytes: Uint8Array;
  try {
    const stat = await fsp.stat(file);
    if (stat.size > MAX_TORCH_FILE_BYTES) {
      throw new InputError(
        `is ${stat.size} bytes, more than the ${MAX_TORCH_FILE_BYTES} accepted for a state dict`,
        file,
      );
    }
    bytes = await fsp.readFile(file);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read PyTorch file: ${errorMessage(err)}`, file);
  }
  return decodeTorchStateDict(bytes, file);
}
