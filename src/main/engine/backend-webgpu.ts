/**
 * The WebGPU route: a GPU from plain Node without tfjs-node-gpu, through Dawn (npm `webgpu`) and
 * @tensorflow/tfjs-backend-webgpu. Neither package is a dependency (the Dawn binary is large and
 * useless without a GPU), so both are loaded with dynamic imports and their absence is a reason
 * to skip, never an error. `D2NWG_WEBGPU_PATH` may name a folder whose node_modules holds them
 * (installed outside the project); `D2NWG_WEBGPU_FLAGS` passes Dawn toggles, comma-separated
 * (e.g. `backend=opengles`), and `D2NWG_WEBGPU_FEATURE_LEVEL=compatibility` is what Dawn's GLES
 * backend needs; it is applied to every adapter request, the tfjs backend's included.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

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
async function importOptional(pkg: string): Promise<unknown> {
  try {
    return await import(/* @vite-ignore */ pkg);
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

function dawnFlags(): string[] {
  const raw = process.env.D2NWG_WEBGPU_FLAGS;
  return raw
    ? raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
    : [];
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
export async function prepareWebgpu(force: boolean): Promise<WebgpuProbe> {
  const dawnModule = await importOptional('webgpu');
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
  const backendModule = await importOptional('@tensorflow/tfjs-backend-webgpu');
  if (backendModule === null) {
    return {
      ok: false,
      reason: `package '@tensorflow/tfjs-backend-webgpu' not installed (${WEBGPU_INSTALL_HINT})`,
      adapter: summary,
    };
  }
  return { ok: true, adapter: summary };
}
