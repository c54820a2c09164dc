/**
 * Cheaper op dispatch on the tfjs webgpu backend. Measured with every Dawn call the backend makes
 * per op wrapped and timed (`d2nwg bench dispatch --breakdown`), three costs stood out:
 * - `device.createBindGroup`, a fresh bind group per op (about half of a tiny op's CPU time on
 *   lavapipe);
 * - the uniform buffer each op allocates and writes (shapes, strides, sizes);
 * - in training steps, uploads of host-resident tensors (scalars made from numbers, results of
 *   small ops tfjs ran on the CPU): tfjs creates a mapped staging buffer for each and destroys it
 *   after the next submit. On an H200 that was 33 `createBuffer` calls per model-batch step, and
 *   `queue.submit` slowed down with them. With all three below on, that step takes 5.4 ms
 *   against 17.6 ms off; the first two alone had not moved it (26 ms both ways, the run before).
 * So:
 * - uniforms are cached by content: a uniform buffer with the same bytes is reused instead of
 *   acquired from the pool and written again;
 * - bind groups are cached by (bind-group layout, buffer, offset, size of every entry), with the
 *   layout of each pipeline fetched once (`getBindGroupLayout` returns a new object per call);
 * - host tensors go to the GPU by `queue.writeBuffer` into a buffer from the backend's pool.
 * Both caches are bounded (least recently used out). A bind group references its buffers, so a
 * hit is exactly the bind group tfjs would have created; an evicted uniform buffer goes back to
 * the backend's pool after the next submit, as tfjs releases its own. `D2NWG_WEBGPU_DISPATCH_CACHE=0`
 * turns all three off (for before/after measurements).
 */

interface BufferBinding {
  readonly buffer?: object;
  readonly offset?: number;
  readonly size?: number;
}
interface BindGroupEntryLike {
  readonly binding: number;
  readonly resource: BufferBinding | object;
}
interface BindGroupDescriptorLike {
  readonly layout: object;
  readonly entries: readonly BindGroupEntryLike[];
}
interface UniformField {
  readonly type: string;
  readonly data: ArrayLike<number>;
}
interface UniformBinding {
  readonly offset: number;
  readonly size: number;
  readonly buffer: object;
}

/** Counters of one installed backend, for tests and the dispatch benchmark. */
export interface DispatchCacheStats {
  /** While false every call goes straight through (before/after measurements in one process). */
  enabled: boolean;
  bindGroupHits: number;
  bindGroupMisses: number;
  uniformHits: number;
  uniformMisses: number;
  /** Host-resident tensors moved to the GPU by `queue.writeBuffer` into a pooled buffer. */
  uploadsWritten: number;
}

/** Entries kept per cache; a training step of a few hundred ops fits many times over. */
const MAX_BIND_GROUPS = 8192;
const MAX_UNIFORMS = 4096;

const installed = new WeakMap<object, DispatchCacheStats>();

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** Replace a method on a (possibly native) object instance, as the buffer guard does. */
function override(obj: object, name: string, value: unknown): void {
  Object.defineProperty(obj, name, { value, configurable: true, writable: true });
}

/** A Map used as a least-recently-used cache: `get` refreshes, `set` evicts the oldest. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(
    private readonly max: number,
    private readonly onEvict: (v: V) => void = () => undefined,
  ) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    this.map.set(key, v);
    if (this.map.size > this.max) {
      const oldest = this.map.keys().next();
      if (!oldest.done) {
        const evicted = this.map.get(oldest.value);
        this.map.delete(oldest.value);
        if (evicted !== undefined) this.onEvict(evicted);
      }
    }
  }
}

/** Whether the caches are wanted (on unless D2NWG_WEBGPU_DISPATCH_CACHE=0). */
export function dispatchCacheEnabled(): boolean {
  return process.env.D2NWG_WEBGPU_DISPATCH_CACHE !== '0';
}

/** The counters of `backend`'s caches, or null when they are not installed on it. */
export function dispatchCacheStats(backend: unknown): DispatchCacheStats | null {
  return isRecord(backend) ? (installed.get(backend) ?? null) : null;
}

/**
 * Install the caches on a tfjs webgpu backend (`tf.backend()` after setBackend('webgpu')).
 * Idempotent per backend; returns its counters. Throws when the backend lacks what is wrapped,
 * so a tfjs upgrade that renames it fails loudly in the webgpu tests instead of silently.
 */
export function installDispatchCaches(backend: unknown): DispatchCacheStats {
  if (!isRecord(backend)) throw new Error('webgpu dispatch caches: no backend');
  const known = installed.get(backend);
  if (known) return known;
  const device = backend.device;
  const makeUniforms = backend.makeUniforms;
  // tfjs replaces this array at every submit: read it afresh each time.
  const pending = (): unknown[] => {
    const p = backend.uniformPendingDisposal;
    if (!Array.isArray(p))
      throw new Error('webgpu dispatch caches: uniformPendingDisposal is gone');
    return p;
  };
  if (
    !isRecord(device) ||
    typeof device.createBindGroup !== 'function' ||
    typeof device.createComputePipeline !== 'function' ||
    typeof makeUniforms !== 'function' ||
    !Array.isArray(backend.uniformPendingDisposal)
  ) {
    throw new Error('webgpu dispatch caches: the backend does not look like tfjs-backend-webgpu');
  }
  const stats: DispatchCacheStats = {
    enabled: true,
    bindGroupHits: 0,
    bindGroupMisses: 0,
    uniformHits: 0,
    uniformMisses: 0,
    uploadsWritten: 0,
  };

  // Object identities as small integers, for cache keys.
  const ids = new WeakMap<object, number>();
  let nextId = 1;
  const idOf = (o: object): number => {
    let id = ids.get(o);
    if (id === undefined) {
      id = nextId++;
      ids.set(o, id);
    }
    return id;
  };

  // One layout object per pipeline and index.
  const memoLayouts = (pipeline: unknown): unknown => {
    if (!isRecord(pipeline) || typeof pipeline.getBindGroupLayout !== 'function') return pipeline;
    const get = (pipeline.getBindGroupLayout as (i: number) => unknown).bind(pipeline);
    const layouts = new Map<number, unknown>();
    override(pipeline, 'getBindGroupLayout', (i: number) => {
      if (!stats.enabled) return get(i);
      let l = layouts.get(i);
      if (l === undefined) {
        l = get(i);
        layouts.set(i, l);
      }
      return l;
    });
    return pipeline;
  };
  const createPipeline = (device.createComputePipeline as (d: unknown) => unknown).bind(device);
  override(device, 'createComputePipeline', (d: unknown) => memoLayouts(createPipeline(d)));
  if (typeof device.createComputePipelineAsync === 'function') {
    const createAsync = (
      device.createComputePipelineAsync as (d: unknown) => Promise<unknown>
    ).bind(device);
    override(device, 'createComputePipelineAsync', async (d: unknown) =>
      memoLayouts(await createAsync(d)),
    );
  }

  const bindGroups = new Lru<unknown>(MAX_BIND_GROUPS);
  const createBindGroup = (device.createBindGroup as (d: BindGroupDescriptorLike) => unknown).bind(
    device,
  );
  override(device, 'createBindGroup', (desc: BindGroupDescriptorLike) => {
    if (!stats.enabled) return createBindGroup(desc);
    let key = String(idOf(desc.layout));
    for (const e of desc.entries) {
      const r = e.resource as BufferBinding;
      // Only buffer bindings are keyed; anything else (textures of pixel ops) is not cached.
      if (!isRecord(r) || !isRecord(r.buffer)) return createBindGroup(desc);
      key += `|${e.binding}:${idOf(r.buffer)}:${r.offset ?? 0}:${r.size ?? -1}`;
    }
    const hit = bindGroups.get(key);
    if (hit !== undefined) {
      stats.bindGroupHits++;
      return hit;
    }
    stats.bindGroupMisses++;
    const made = createBindGroup(desc);
    bindGroups.set(key, made);
    return made;
  });

  // An evicted uniform buffer is released after the next submit, like tfjs's own.
  const uniforms = new Lru<UniformBinding>(MAX_UNIFORMS, (u) => pending().push(u.buffer));
  const make = (makeUniforms as (f: readonly UniformField[]) => UniformBinding).bind(backend);
  override(backend, 'makeUniforms', (fields: readonly UniformField[]) => {
    if (!stats.enabled) return make(fields);
    let key = '';
    for (const f of fields) key += `${f.type}:${Array.prototype.join.call(f.data, ',')};`;
    const hit = uniforms.get(key);
    if (hit !== undefined) {
      stats.uniformHits++;
      return hit;
    }
    stats.uniformMisses++;
    const made = make(fields);
    // Keep the buffer out of the per-submit release: it is ours until evicted.
    const p = pending();
    if (p[p.length - 1] === made.buffer) {
      p.pop();
      uniforms.set(key, made);
    }
    return made;
  });

  // Uploads of host-resident tensors (scalars made from numbers, outputs of small ops tfjs ran on
  // the CPU): tfjs creates a fresh mapped staging buffer for each and destroys it after the next
  // submit, about 33 buffer creations per step of a model-batch training step. Instead the data
  // goes through `queue.writeBuffer` into a buffer from the backend's pool. That is ordered
  // correctly: a pooled buffer is not referenced by the open command encoder (tfjs defers the
  // release of buffers the encoder uses until it is submitted), the write lands after all
  // earlier submissions and before the encoder's own, so the kernels recorded next read it.
  const upload = backend.uploadToGPU;
  const tensorMap = backend.tensorMap;
  const bufferManager = backend.bufferManager;
  const queue = backend.queue;
  if (
    typeof upload === 'function' &&
    isRecord(tensorMap) &&
    typeof tensorMap.get === 'function' &&
    isRecord(bufferManager) &&
    typeof bufferManager.acquireBuffer === 'function' &&
    isRecord(queue) &&
    typeof queue.writeBuffer === 'function'
  ) {
    const original = (upload as (id: object) => void).bind(backend);
    const acquire = (bufferManager.acquireBuffer as (size: number, usage: number) => object).bind(
      bufferManager,
    );
    const write = (
      queue.writeBuffer as (b: object, off: number, data: ArrayBufferView) => void
    ).bind(queue);
    // GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST, as tfjs's uploadToGPU asks for.
    const usage = 0x80 | 0x04 | 0x08;
    override(backend, 'uploadToGPU', (dataId: object) => {
      const td = (tensorMap.get as (id: object) => unknown).call(tensorMap, dataId) as
        | { dtype: string; shape: number[]; values: ArrayLike<number> | null; resource: unknown }
        | undefined;
      if (!stats.enabled || !td || td.resource != null || td.values == null)
        return original(dataId);
      const { dtype, values } = td;
      if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') return original(dataId);
      const n = td.shape.reduce((a, b) => a * b, 1);
      if (n === 0 || values.length !== n) return original(dataId);
      const data =
        dtype === 'float32'
          ? values instanceof Float32Array
            ? values
            : Float32Array.from(values)
          : values instanceof Int32Array
            ? values
            : Int32Array.from(values);
      const buffer = acquire(n * 4, usage);
      write(buffer, 0, data);
      td.values = null;
      td.resource = buffer;
      stats.uploadsWritten++;
    });
  }

  installed.set(backend, stats);
  return stats;
}
