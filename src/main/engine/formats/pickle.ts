/**
 * A restricted unpickler for PyTorch state dicts. It interprets the pickle opcodes (protocols 2–5)
 * that `torch.save` of a state dict emits and builds plain values; it never imports or calls
 * anything. A GLOBAL is accepted only if the caller's allow-list has it, and REDUCE / NEWOBJ /
 * BUILD only apply the caller's own JS builders to those globals: a pickle naming anything else
 * (`os.system`, `builtins.eval`, a model class) is refused with an InputError naming the global.
 * Persistent ids (tensor storages) are handed to the caller's `persistentLoad`.
 */
import { InputError } from '../errors.ts';

/** A Python tuple. */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}
/** A Python list. */
export class PyList {
  constructor(readonly items: PyValue[]) {}
}
/** A Python dict (also OrderedDict): keys in insertion order. */
export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
}
/** A reference to an allowed global (module.name). */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}
/** Something a builder made (a tensor, a storage): opaque to the unpickler. */
export class PyObject {
  constructor(readonly value: unknown) {}
}

export type PyKey = string | number | boolean | null;
export type PyValue = PyKey | bigint | Uint8Array | PyTuple | PyList | PyDict | PyGlobal | PyObject;

/** What a caller lets a pickle use. */
export interface UnpickleOptions {
  /** Allowed globals, `module.name` → what calling it with the given arguments builds. */
  readonly globals: ReadonlyMap<string, (args: PyValue[]) => PyValue>;
  /** Globals that may be named but not called (e.g. storage types passed in persistent ids). */
  readonly names?: ReadonlySet<string>;
  /** Resolves a persistent id (BINPERSID). Without it persistent ids are refused. */
  readonly persistentLoad?: (pid: PyValue) => PyValue;
  /** Names the pickle in errors. */
  readonly where: string;
}

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

/** Most values on the stack and in the memo: far beyond a state dict, bounds a hostile file. */
const MAX_ITEMS = 10_000_000;

/** Unpickle `bytes` under `options`; the value STOP leaves. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): PyValue {
  const { where } = options;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: StackItem[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;
  let op = 0;
  let opAt = 0;

  const fail = (msg: string): InputError => new InputError(`pickle: ${msg}`, where);
  const need = (k: number): number => {
    if (pos + k > bytes.length)
      throw fail(`truncated at byte ${pos} (opcode 0x${op.toString(16)})`);
    const at = pos;
    pos += k;
    return at;
  };
  const u8 = (): number => view.getUint8(need(1));
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => {
    const v = view.getBigUint64(need(8), true);
    if (v > BigInt(bytes.length)) throw fail(`length ${v} at byte ${pos - 8} exceeds the pickle`);
    return Number(v);
  };
  const raw = (len: number): Uint8Array => {
    const at = need(len);
    return bytes.subarray(at, at + len);
  };
  const text = (len: number): string => {
    try {
      return utf8.decode(raw(len));
    } catch {
      throw fail(`invalid UTF-8 string at byte ${pos - len}`);
    }
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw fail(`truncated at byte ${pos} (a line without its end)`);
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const push = (v: StackItem): void => {
    if (stack.length >= MAX_ITEMS) throw fail('too many values on the stack');
    stack.push(v);
  };
  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined) throw fail(`stack underflow at byte ${opAt}`);
    if (v === MARK) throw fail(`unexpected mark at byte ${opAt}`);
    return v;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw fail(`no value to modify at byte ${opAt}`);
    return v;
  };
  const popMark = (): PyValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw fail(`no mark at byte ${opAt}`);
    const items = stack.splice(i) as PyValue[];
    items.shift();
    return items;
  };
  const memoGet = (i: number): PyValue => {
    const v = memo.get(i);
    if (v === undefined) throw fail(`memo entry ${i} is not set (byte ${opAt})`);
    return v;
  };
  const memoPut = (i: number): void => {
    if (memo.size >= MAX_ITEMS) throw fail('too many memo entries');
    memo.set(i, top());
  };
  const global = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    if (!options.globals.has(q) && !options.names?.has(q)) {
      throw new InputError(
        `refused: the pickle names the global '${q}', which a PyTorch state dict does not need (nothing was run; only tensors, storages and OrderedDict are accepted)`,
        where,
      );
    }
    return new PyGlobal(module, name);
  };
  const call = (fn: PyValue, args: PyValue): PyValue => {
    if (!(fn instanceof PyGlobal))
      throw fail(`REDUCE of a value that is not a global (byte ${opAt})`);
    const build = options.globals.get(fn.qualified);
    if (!build) {
      throw new InputError(
        `refused: the pickle calls '${fn.qualified}', which may only be named, not called (nothing was run)`,
        where,
      );
    }
    if (!(args instanceof PyTuple)) throw fail(`arguments of '${fn.qualified}' are not a tuple`);
    return build(args.items);
  };
  const setItem = (d: PyValue, k: PyValue, v: PyValue): void => {
    if (!(d instanceof PyDict)) throw fail(`SETITEM on a value that is not a dict (byte ${opAt})`);
    if (!(typeof k === 'string' || typeof k === 'number' || typeof k === 'boolean' || k === null)) {
      throw fail(`a dict key of an unsupported type (byte ${opAt})`);
    }
    d.map.set(k, v);
  };
  const longFrom = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v;
  };

  for (;;) {
    opAt = pos;
    op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw fail('pickle protocol above 5');
        break;
      case 0x95: // FRAME
        need(8);
        break;
      case 0x2e: {
        // STOP
        const v = pop();
        return v;
      }
      case 0x28: // MARK
        push(MARK);
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT
        push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x8a: // LONG1
        push(longFrom(raw(u8())));
        break;
      case 0x8b: {
        // LONG4
        const len = view.getInt32(need(4), true);
        if (len < 0 || len > 1024) throw fail(`LONG4 of ${len} bytes`);
        push(longFrom(raw(len)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        push(view.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        push(text(u64()));
        break;
      case 0x43: // SHORT_BINBYTES
        push(raw(u8()).slice());
        break;
      case 0x42: // BINBYTES
        push(raw(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
        push(raw(u64()).slice());
        break;
      case 0x7d: // EMPTY_DICT
        push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST
        push(new PyList([]));
        break;
      case 0x29: // EMPTY_TUPLE
        push(new PyTuple([]));
        break;
      case 0x74: // TUPLE
        push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
        push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        push(new PyTuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        push(new PyTuple([pop(), b, c]));
        break;
      }
      case 0x6c: // LIST
        push(new PyList(popMark()));
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const d = new PyDict();
        for (let i = 0; i + 1 < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        push(d);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const l = top();
        if (!(l instanceof PyList))
          throw fail(`APPEND to a value that is not a list (byte ${opAt})`);
        l.items.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const l = top();
        if (!(l instanceof PyList))
          throw fail(`APPENDS to a value that is not a list (byte ${opAt})`);
        l.items.push(...items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItem(top(), k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const d = top();
        if (items.length % 2) throw fail(`SETITEMS with an odd number of values (byte ${opAt})`);
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x71: // BINPUT
        memoPut(u8());
        break;
      case 0x72: // LONG_BINPUT
        memoPut(u32());
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      case 0x68: // BINGET
        push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        push(memoGet(u32()));
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') {
          throw fail(`STACK_GLOBAL without two strings (byte ${opAt})`);
        }
        push(global(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        push(call(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args); only for allowed globals, through the same builder.
        const args = pop();
        push(call(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD: sets state on the object below. Only a dict's state (OrderedDict._metadata) is
        // accepted, and dropped: a state dict needs none of it.
        pop();
        if (!(top() instanceof PyDict)) {
          throw fail(`BUILD on a value that is not a dict (byte ${opAt})`);
        }
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) throw fail('a persistent id, which this file may not use');
        push(options.persistentLoad(pid));
        break;
      }
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      default:
        throw fail(
          `opcode 0x${op.toString(16).padStart(2, '0')} at byte ${opAt} is not one a PyTorch state dict uses; refused`,
        );
    }
  }
}
