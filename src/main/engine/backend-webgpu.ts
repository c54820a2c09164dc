/**
 * The WebGPU route: a GPU from plain Node without tfjs-node-gpu, through Dawn (npm `webgpu`) and
 * @tensorflow/tfjs-backend-webgpu. Neither package is a dependency (the Dawn binary is large and
 * useless without a GPU), so both are loaded with dynamic imports and their absence is a reason
 * to skip, never an error. `D2NWG_WEBGPU_PATH` may name a folder whose node_modules holds them
 * (installed outside the project); `D2NWG_WEBGPU_FLAGS` passes Dawn toggles, comma-separated
 * (e.g. `backend=opengles`), and `D2NWG_WEBGPU_FEATURE_LEVEL=compatibility` is what Dawn's GLES
 * backend needs; it is applied to every adapter request, the tfjs backend's included.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DeviceLimitError } from './errors.ts';

/** The install line doctor prints when the packages are missing. */
export const WEBGPU_INSTALL_HINT = 'npm i -D webgpu @tensorflow/tfjs-backend-webgpu@4.22.0';

// Minimal local typings of the WebGPU objects we use (no DOM lib in the Node build).
interface GpuAdapterInfoLike {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
}
interface GpuLimitsLike {
  readonly maxBufferSize?: number;
  readonly maxStorageBufferBindingSize?: number;
}
interface GpuAdapterLike {
  readonly info?: GpuAdapterInfoLike;
  readonly isFallbackAdapter?: boolean;
  readonly limits?: GpuLimitsLike;
  requestAdapterInfo?(): Promise<GpuAdapterInfoLike>;
}
interface GpuLike {
  requestAdapter(options?: {
    readonly powerPreference?: 'high-performance' | 'low-power';
    readonly featureLevel?: string;
  }): Promise<GpuAdapterLike | null>;
}
interface DawnPackage {
  create(flags: string[]): GpuLike;
  readonly globals: object;
}

/** What doctor shows about the GPU adapter. */
export interface GpuAdapterSummary {
  /** Vendor string from the adapter, e.g. 'nvidia'. */
  readonly vendor: string;
  /** Architecture string, e.g. 'hopper'. */
  readonly architecture: string;
  /** Device string, when Dawn gives one. */
  readonly device: string;
  /** Driver description, e.g. 'NVIDIA: 550.54' or 'llvmpipe'. */
  readonly description: string;
  /** What the adapter itself reports: true for Dawn's own software fallback. */
  readonly isFallbackAdapter: boolean;
  /**
   * True when the adapter is a CPU rasteriser (isFallbackAdapter, or llvmpipe/lavapipe/SwiftShader
   * by name, which Dawn does not always flag). Auto selection refuses these: wasm is faster.
   */
  readonly software: boolean;
  /** Largest buffer the device may create, in bytes. */
  readonly maxBufferSize: number;
  /** Largest storage-buffer binding, in bytes: bounds the largest tensor a kernel can read. */
  readonly maxStorageBufferBindingSize: number;
}

/** Outcome of preparing WebGPU: usable (with the adapter) or a one-line reason why not. */
export type WebgpuProbe =
  | { readonly ok: true; readonly adapter: GpuAdapterSummary }
  | { readonly ok: false; readonly reason: string; readonly adapter?: GpuAdapterSummary };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function isNotFound(err: unknown, pkg: string): boolean {
  if (!isRecord(err)) return false;
  const code = err.code;
  const message = typeof err.message === 'string' ? err.message : '';
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(pkg);
}

/** Import `pkg` from the project, else from `$D2NWG_WEBGPU_PATH`; null when neither has it. */
/** How a package is imported: `import()` by default; tests pass one that fails. */
export type Importer = (specifier: string) => Promise<unknown>;

const defaultImporter: Importer = (specifier) => import(/* @vite-ignore */ specifier);

async function importOptional(pkg: string, importer: Importer): Promise<unknown> {
  try {
    return await importer(pkg);
  } catch (err) {
    if (!isNotFound(err, pkg)) throw err;
  }
  const extra = process.env.D2NWG_WEBGPU_PATH;
  if (!extra) return null;
  let resolved: string;
  try {
    resolved = createRequire(path.join(path.resolve(extra), 'package.json')).resolve(pkg);
  } catch (err) {
    if (isNotFound(err, pkg)) return null;
    throw err;
  }
  return import(/* @vite-ignore */ pathToFileURL(resolved).href);
}

function asDawn(mod: unknown): DawnPackage | null {
  if (!isRecord(mod)) return null;
  const candidates: unknown[] = [mod, mod.default];
  for (const c of candidates) {
    if (isRecord(c) && typeof c.create === 'function' && isRecord(c.globals)) {
      const create = c.create;
      const globals = c.globals;
      return {
        create: (flags) => {
          const gpu: unknown = Reflect.apply(create, c, [flags]);
          if (!isRecord(gpu) || typeof gpu.requestAdapter !== 'function') {
            throw new Error("package 'webgpu': create() did not return a GPU object");
          }
          return gpu as unknown as GpuLike;
        },
        globals,
      };
    }
  }
  return null;
}

async function summarise(adapter: GpuAdapterLike): Promise<GpuAdapterSummary> {
  const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
  const names = [info.vendor, info.architecture, info.device, info.description].join(' ');
  const isFallbackAdapter = adapter.isFallbackAdapter === true;
  return {
    software: isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software/i.test(names),
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter,
    maxBufferSize: adapter.limits?.maxBufferSize ?? 0,
    maxStorageBufferBindingSize: adapter.limits?.maxStorageBufferBindingSize ?? 0,
  };
}

/**
 * Dawn's create() flags from D2NWG_WEBGPU_FLAGS, comma-separated. A part without '=' continues
 * the previous flag's value, so `enable-dawn-features=skip_validation,lazy_clear_resource_on_first_use`
 * stays one flag with two toggles, as Dawn expects, next to e.g. `backend=vulkan`.
 */
export function dawnFlags(raw = process.env.D2NWG_WEBGPU_FLAGS): string[] {
  const out: string[] = [];
  for (const part of (raw ?? '').split(',').map((s) => s.trim())) {
    if (part === '') continue;
    if (!part.includes('=') && out.length > 0) out[out.length - 1] += `,${part}`;
    else out.push(part);
  }
  return out;
}

/** Make every requestAdapter on `gpu` ask for `level` (tfjs-backend-webgpu has no option for it). */
function withFeatureLevel(gpu: GpuLike, level: string | undefined): GpuLike {
  if (!level) return gpu;
  const request = gpu.requestAdapter.bind(gpu);
  Object.defineProperty(gpu, 'requestAdapter', {
    value: (options?: Parameters<GpuLike['requestAdapter']>[0]) =>
      request({ ...options, featureLevel: level }),
    configurable: true,
  });
  return gpu;
}

let installedGpu: GpuLike | null = null;

/**
 * Load Dawn, install `navigator.gpu`, check the adapter, then import the tfjs webgpu backend
 * (which reads navigator.gpu when it loads, hence the order). With `force` a software adapter is
 * accepted. On success the 'webgpu' tfjs backend is registered; the caller sets it.
 */
export async function prepareWebgpu(
  force: boolean,
  importer: Importer = defaultImporter,
): Promise<WebgpuProbe> {
  const dawnModule = await importOptional('webgpu', importer);
  if (dawnModule === null) {
    return { ok: false, reason: `package 'webgpu' not installed (${WEBGPU_INSTALL_HINT})` };
  }
  const dawn = asDawn(dawnModule);
  if (!dawn) return { ok: false, reason: "package 'webgpu' has no create()/globals exports" };
  if (!installedGpu) {
    // WebGPU constants (GPUBufferUsage…) must be globals before tfjs-backend-webgpu loads.
    Object.assign(globalThis, dawn.globals);
    installedGpu = withFeatureLevel(
      dawn.create(dawnFlags()),
      process.env.D2NWG_WEBGPU_FEATURE_LEVEL,
    );
    const nav: unknown = Reflect.get(globalThis, 'navigator');
    if (isRecord(nav)) {
      Object.defineProperty(nav, 'gpu', { value: installedGpu, configurable: true });
    } else {
      Object.defineProperty(globalThis, 'navigator', {
        value: { gpu: installedGpu },
        configurable: true,
        writable: true,
      });
    }
  }
  const adapter = await installedGpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { ok: false, reason: 'no WebGPU adapter found (no GPU or no driver)' };
  const summary = await summarise(adapter);
  if (summary.software && !force) {
    const name = [summary.vendor, summary.device, summary.description].filter((x) => x).join(', ');
    return {
      ok: false,
      reason: `adapter '${name}' is a software (CPU) adapter; set D2NWG_BACKEND=webgpu to use it anyway`,
      adapter: summary,
    };
  }
  const backendModule = await importOptional('@tensorflow/tfjs-backend-webgpu', importer);
  if (backendModule === null) {
    return {
      ok: false,
      reason: `package '@tensorflow/tfjs-backend-webgpu' not installed (${WEBGPU_INSTALL_HINT})`,
      adapter: summary,
    };
  }
  return { ok: true, adapter: summary };
}

/** Where Linux exposes GPUs: NVIDIA, DRM render nodes (AMD, Intel, Mesa), AMD compute, WSL. */
const GPU_DEVICE_PATTERNS: readonly { dir: string; re: RegExp }[] = [
  { dir: '/dev', re: /^(nvidia\d+|kfd|dxg)$/ },
  { dir: '/dev/dri', re: /^renderD\d+$/ },
];

/**
 * The GPU device files present on this machine (Linux), or null where we cannot tell (other
 * platforms). Auto selection probes WebGPU only when one exists: loading Dawn without a GPU costs
 * time and prints driver warnings, and could only find a software adapter, which auto refuses.
 */
export function gpuDeviceFiles(
  platform: NodeJS.Platform = process.platform,
  list: (dir: string) => string[] = (dir) => fs.readdirSync(dir),
): string[] | null {
  if (platform !== 'linux') return null;
  const found: string[] = [];
  for (const { dir, re } of GPU_DEVICE_PATTERNS) {
    let names: string[];
    try {
      names = list(dir);
    } catch {
      continue;
    }
    for (const n of names) if (re.test(n)) found.push(`${dir}/${n}`);
  }
  return found.sort();
}

/** The reason auto selection gives when no GPU device file exists. */
export const NO_GPU_DEVICE_REASON =
  'no GPU device on this machine (/dev/nvidia*, /dev/dri/renderD*, /dev/kfd, /dev/dxg); set D2NWG_BACKEND=webgpu to probe anyway';

function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

/** GPUBufferUsage.STORAGE (the WebGPU constant; Node has no global before Dawn loads). */
const STORAGE_USAGE = 0x80;

/** The byte limits a GPU buffer must respect, after `D2NWG_WEBGPU_MAX_BUFFER` (a cap, in bytes). */
export interface BufferLimits {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
}

/** Apply the optional `D2NWG_WEBGPU_MAX_BUFFER` cap (for sharing a GPU, and for tests). */
export function effectiveBufferLimits(
  device: BufferLimits,
  capRaw: string | undefined = process.env.D2NWG_WEBGPU_MAX_BUFFER,
): BufferLimits {
  const cap = capRaw === undefined || capRaw === '' ? Infinity : Number(capRaw);
  if (!(cap > 0)) {
    throw new Error(`D2NWG_WEBGPU_MAX_BUFFER must be a positive number of bytes, got '${capRaw}'`);
  }
  return {
    maxBufferSize: Math.min(device.maxBufferSize, cap),
    maxStorageBufferBindingSize: Math.min(device.maxStorageBufferBindingSize, cap),
  };
}

/**
 * Check one buffer request against the limits; throws DeviceLimitError naming the sizes. WebGPU
 * itself only reports an oversized buffer as an asynchronous validation error and hands back an
 * invalid buffer, so without this check a too-large tensor would compute silent garbage.
 */
export function checkBufferRequest(size: number, usage: number, limits: BufferLimits): void {
  const what = `a GPU buffer of ${formatBytes(size)}`;
  const hint =
    'use a smaller batch or fewer weights per model, or run on wasm (D2NWG_BACKEND=wasm)';
  if (size > limits.maxBufferSize) {
    throw new DeviceLimitError(
      `webgpu: ${what} exceeds this device's maxBufferSize (${formatBytes(limits.maxBufferSize)}); ${hint}`,
      size,
      limits.maxBufferSize,
    );
  }
  if ((usage & STORAGE_USAGE) !== 0 && size > limits.maxStorageBufferBindingSize) {
    throw new DeviceLimitError(
      `webgpu: ${what} exceeds this device's maxStorageBufferBindingSize ` +
        `(${formatBytes(limits.maxStorageBufferBindingSize)}), the largest tensor a kernel can read; ${hint}`,
      size,
      limits.maxStorageBufferBindingSize,
    );
  }
}

interface GpuDeviceLike {
  readonly limits: BufferLimits;
  createBuffer(descriptor: { size: number; usage: number }): unknown;
}

/** The limits in force on the active webgpu device, or null when none is guarded. */
let guardedLimits: BufferLimits | null = null;
/** Devices already wrapped, so a second setBackend('webgpu') does not wrap twice. */
const guardedDevices = new WeakMap<object, BufferLimits>();

/**
 * Wrap the tfjs webgpu backend's device so that every buffer it creates is checked first. Call
 * once after `tf.setBackend('webgpu')`; `backend` is `tf.backend()`.
 */
export function installBufferGuard(backend: unknown): BufferLimits {
  const device = isRecord(backend) ? backend.device : undefined;
  if (!isRecord(device) || typeof device.createBuffer !== 'function' || !isRecord(device.limits)) {
    throw new Error('webgpu backend has no device to guard');
  }
  const dev = device as unknown as GpuDeviceLike;
  const known = guardedDevices.get(dev);
  if (known) {
    guardedLimits = known;
    return known;
  }
  const limits = effectiveBufferLimits({
    maxBufferSize: Number(dev.limits.maxBufferSize),
    maxStorageBufferBindingSize: Number(dev.limits.maxStorageBufferBindingSize),
  });
  const create = dev.createBuffer.bind(dev);
  Object.defineProperty(dev, 'createBuffer', {
    value: (descriptor: { size: number; usage: number }) => {
      checkBufferRequest(descriptor.size, descriptor.usage, limits);
      return create(descriptor);
    },
    configurable: true,
  });
  guardedDevices.set(dev, limits);
  guardedLimits = limits;
  return limits;
}

/**
 * How many rows of `bytesPerRow` one tensor may hold on the active device, at most `wanted`.
 * Chunked loops (prediction, encoding) use it so a batch never exceeds the GPU's binding limit;
 * on wasm and cpu it returns `wanted`.
 */
export function rowsPerDeviceBuffer(bytesPerRow: number, wanted: number): number {
  if (!guardedLimits || bytesPerRow <= 0) return wanted;
  const cap = Math.min(guardedLimits.maxBufferSize, guardedLimits.maxStorageBufferBindingSize);
  return Math.max(1, Math.min(wanted, Math.floor(cap / bytesPerRow)));
}

/** Forget the guarded limits (when another backend becomes active). */
export function clearBufferGuard(): void {
  guardedLimits = null;
}

/** Devices whose validation errors are already watched. */
const watchedDevices = new WeakSet<object>();
/** The check installValidationCheck made for each backend. */
const refusalChecks = new WeakMap<object, () => void>();

/**
 * Throw the GPU's kept validation errors for `backend` (installValidationCheck), as a readback
 * through tfjs would; no-op where none are watched. For readbacks that bypass tfjs's `read`.
 */
export function throwIfGpuRefused(backend: unknown): void {
  if (isRecord(backend)) refusalChecks.get(backend)?.();
}

/**
 * Make the GPU's validation errors loud. Dawn reports an invalid pipeline, bind group or command
 * buffer as an "uncaptured error" event and drops the work: a whole submission of up to 15 ops is
 * skipped and its outputs keep stale or zero contents, so numbers come out wrong with no error
 * (the quality benchmark's ensembles read 0.0 % that way before AddN was chunked). Here each such
 * error is kept, and the next readback of any tensor (`data()`, `dataSync()`) throws it, naming
 * Dawn's message, so a run fails instead of reporting garbage.
 */
export function installValidationCheck(backend: unknown): void {
  const device = isRecord(backend) ? backend.device : undefined;
  if (!isRecord(device) || typeof device.addEventListener !== 'function') return;
  if (watchedDevices.has(device)) return;
  watchedDevices.add(device);
  const errors: string[] = [];
  (device.addEventListener as (type: string, fn: (e: unknown) => void) => void).call(
    device,
    'uncapturederror',
    (e: unknown) => {
      const err = isRecord(e) && isRecord(e.error) ? e.error : undefined;
      const message = typeof err?.message === 'string' ? err.message : String(e);
      if (errors.length < 8) errors.push(message.split('\n')[0] ?? message);
    },
  );
  const check = () => {
    if (errors.length === 0) return;
    const first = errors[0];
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    errors.length = 0;
    throw new Error(`the GPU refused work, so results would be wrong: ${first}${more}`);
  };
  const be = backend as Record<string, unknown>;
  refusalChecks.set(be, check);
  for (const name of ['read', 'readSync'] as const) {
    const orig = be[name];
    if (typeof orig !== 'function') continue;
    const fn = orig as (...a: unknown[]) => unknown;
    Object.defineProperty(be, name, {
      configurable: true,
      writable: true,
      value:
        name === 'read'
          ? async function (this: unknown, ...a: unknown[]) {
              const out = await fn.apply(this, a);
              check();
              return out;
            }
          : function (this: unknown, ...a: unknown[]) {
              const out = fn.apply(this, a);
              check();
              return out;
            },
    });
  }
}
