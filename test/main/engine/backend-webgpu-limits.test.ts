import { describe, expect, it } from 'vitest';
import {
  dawnFlags,
  checkBufferRequest,
  effectiveBufferLimits,
  gpuDeviceFiles,
  installBufferGuard,
  rowsPerDeviceBuffer,
  clearBufferGuard,
} from '../../../src/main/engine/backend-webgpu.ts';
import { DeviceLimitError } from '../../../src/main/engine/errors.ts';

const STORAGE = 0x80;
const COPY_DST = 0x08;
const MiB = 2 ** 20;

describe('dawnFlags', () => {
  it('splits on commas but keeps a toggle list with its flag', () => {
    expect(dawnFlags(undefined)).toEqual([]);
    expect(dawnFlags(' backend=opengles , ')).toEqual(['backend=opengles']);
    expect(
      dawnFlags(
        'enable-dawn-features=skip_validation,lazy_clear_resource_on_first_use,backend=vulkan',
      ),
    ).toEqual([
      'enable-dawn-features=skip_validation,lazy_clear_resource_on_first_use',
      'backend=vulkan',
    ]);
  });
});

describe('gpuDeviceFiles', () => {
  const fake =
    (tree: Record<string, string[]>) =>
    (dir: string): string[] => {
      const names = tree[dir];
      if (!names) throw Object.assign(new Error(`ENOENT ${dir}`), { code: 'ENOENT' });
      return names;
    };

  it('finds NVIDIA, DRM render nodes, AMD compute and WSL devices, and nothing else', () => {
    const files = gpuDeviceFiles(
      'linux',
      fake({
        '/dev': ['null', 'nvidia0', 'nvidiactl', 'nvidia-uvm', 'kfd', 'tty0', 'dxg'],
        '/dev/dri': ['card0', 'renderD128'],
      }),
    );
    expect(files).toEqual(['/dev/dri/renderD128', '/dev/dxg', '/dev/kfd', '/dev/nvidia0']);
  });

  it('returns an empty list on a Linux box without a GPU, and null elsewhere', () => {
    expect(gpuDeviceFiles('linux', fake({ '/dev': ['null', 'tty0'] }))).toEqual([]);
    expect(gpuDeviceFiles('darwin', fake({}))).toBeNull();
  });
});

describe('GPU buffer limits', () => {
  const limits = { maxBufferSize: 256 * MiB, maxStorageBufferBindingSize: 128 * MiB };

  it('lets buffers within the limits through', () => {
    expect(() => checkBufferRequest(128 * MiB, STORAGE, limits)).not.toThrow();
    expect(() => checkBufferRequest(200 * MiB, COPY_DST, limits)).not.toThrow();
  });

  it('refuses a storage buffer above the binding limit, naming both sizes', () => {
    let err: unknown;
    try {
      checkBufferRequest(200 * MiB, STORAGE | COPY_DST, limits);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DeviceLimitError);
    expect((err as DeviceLimitError).requested).toBe(200 * MiB);
    expect((err as DeviceLimitError).limit).toBe(128 * MiB);
    expect(String(err)).toMatch(/200\.0 MiB.*maxStorageBufferBindingSize \(128\.0 MiB\)/);
    expect(String(err)).toMatch(/smaller batch|D2NWG_BACKEND=wasm/);
  });

  it('refuses any buffer above maxBufferSize', () => {
    expect(() => checkBufferRequest(300 * MiB, COPY_DST, limits)).toThrow(
      /maxBufferSize \(256\.0 MiB\)/,
    );
  });

  it('applies the D2NWG_WEBGPU_MAX_BUFFER cap and rejects a nonsense cap', () => {
    expect(effectiveBufferLimits(limits, String(MiB))).toEqual({
      maxBufferSize: MiB,
      maxStorageBufferBindingSize: MiB,
    });
    expect(effectiveBufferLimits(limits, undefined)).toEqual(limits);
    expect(() => effectiveBufferLimits(limits, 'lots')).toThrow(/D2NWG_WEBGPU_MAX_BUFFER/);
  });

  it('guards a device: oversized createBuffer throws before reaching the device, rows are capped', () => {
    const created: number[] = [];
    const device = {
      limits: { maxBufferSize: 4096, maxStorageBufferBindingSize: 2048 },
      createBuffer(d: { size: number; usage: number }) {
        created.push(d.size);
        return { size: d.size };
      },
    };
    try {
      const got = installBufferGuard({ device });
      expect(got).toEqual({ maxBufferSize: 4096, maxStorageBufferBindingSize: 2048 });
      device.createBuffer({ size: 1024, usage: STORAGE });
      expect(() => device.createBuffer({ size: 4000, usage: STORAGE })).toThrow(DeviceLimitError);
      expect(created).toEqual([1024]);
      // A second install does not wrap twice (one check, one real call).
      installBufferGuard({ device });
      device.createBuffer({ size: 16, usage: STORAGE });
      expect(created).toEqual([1024, 16]);
      // 2048 bytes per buffer: rows of 100 bytes → 20 rows at most.
      expect(rowsPerDeviceBuffer(100, 512)).toBe(20);
      expect(rowsPerDeviceBuffer(100, 8)).toBe(8);
      expect(rowsPerDeviceBuffer(10_000, 8)).toBe(1);
    } finally {
      clearBufferGuard();
    }
    expect(rowsPerDeviceBuffer(100, 512)).toBe(512);
  });

  it('refuses to guard something that is not a webgpu backend', () => {
    expect(() => installBufferGuard({})).toThrow(/no device/);
  });
});
