/**
 * ImageFolder datasets (the torchvision layout users already have): `root/<class>/*.png|jpg|jpeg`.
 * Classes are the sub-folders sorted by name, so the same folder always maps to the same label
 * indices. Images are decoded with pngjs / jpeg-js (pure JS, no native build), converted to grey
 * or RGB and resized to one size, since every model needs a fixed input shape.
 */
import type { Dirent } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { InputError, throwIfAborted } from '../errors.ts';
import { yieldToEventLoop, type RunControl } from '../progress.ts';
import { readInputFile } from './idx.ts';
import type { LabelledData } from './types.ts';
import { errorMessage } from '../../../shared/errors.ts';

/** Options of loadImageFolder; every field optional. */
export interface ImageFolderOptions {
  /** Output [height, width]; default: the size of the first image. */
  readonly size?: readonly [number, number];
  /** 1 = grey, 3 = RGB; default: 1 if the first image is grey, else 3. */
  readonly channels?: 1 | 3;
  /** Resampling when an image's size differs from `size`. */
  readonly resize?: 'nearest' | 'bilinear';
}

/** A decoded image, RGBA 8-bit, row-major. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg']);

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Decode PNG or JPEG bytes (detected by magic, not extension) to RGBA; failures name the file. */
export function decodeImage(bytes: Uint8Array, fileName: string): RgbaImage {
  const isPng =
    bytes.length >= 8 &&
    bytes[0] === 0x89 &&
    bytes[1] === 0x50 &&
    bytes[2] === 0x4e &&
    bytes[3] === 0x47;
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, data: new Uint8Array(png.data) };
    }
    if (isJpeg) {
      const img = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxMemoryUsageInMB: 1024,
      });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (err) {
    throw new InputError(
      `unreadable ${isPng ? 'PNG' : 'JPEG'} image (${errorMessage(err)})`,
      fileName,
    );
  }
  throw new InputError('not a PNG or JPEG image (unrecognised file signature)', fileName);
}

/** True when every pixel has R = G = B (a grey image stored as colour). */
export function isGrey(img: RgbaImage): boolean {
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 1] || d[i] !== d[i + 2]) return false;
  return true;
}

/**
 * Convert an RGBA image to `channels` channels and resize it to [h, w], values in [0, 1], written
 * into `out` at `offset`. Grey uses ITU-R BT.601 luma; alpha is ignored. Bilinear sampling uses
 * pixel centres (as PIL and tf.image.resize with half_pixel_centers do).
 */
export function imageToFloat(
  img: RgbaImage,
  h: number,
  w: number,
  channels: 1 | 3,
  method: 'nearest' | 'bilinear',
  out: Float32Array,
  offset: number,
): void {
  const { width: sw, height: sh, data } = img;
  const src = new Float32Array(sw * sh * channels);
  for (let p = 0, q = 0; p < sw * sh; p++) {
    const r = data[4 * p] / 255;
    const g = data[4 * p + 1] / 255;
    const b = data[4 * p + 2] / 255;
    if (channels === 1) src[q++] = 0.299 * r + 0.587 * g + 0.114 * b;
    else {
      src[q++] = r;
      src[q++] = g;
      src[q++] = b;
    }
  }
  if (sw === w && sh === h) {
    out.set(src, offset);
    return;
  }
  const sy = sh / h;
  const sx = sw / w;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = offset + (y * w + x) * channels;
      if (method === 'nearest') {
        const yy = Math.min(sh - 1, Math.floor((y + 0.5) * sy));
        const xx = Math.min(sw - 1, Math.floor((x + 0.5) * sx));
        for (let c = 0; c < channels; c++) out[o + c] = src[(yy * sw + xx) * channels + c];
      } else {
        const fy = Math.min(sh - 1, Math.max(0, (y + 0.5) * sy - 0.5));
        const fx = Math.min(sw - 1, Math.max(0, (x + 0.5) * sx - 0.5));
        const y0 = Math.floor(fy);
        const x0 = Math.floor(fx);
        const y1 = Math.min(sh - 1, y0 + 1);
        const x1 = Math.min(sw - 1, x0 + 1);
        const dy = fy - y0;
        const dx = fx - x0;
        for (let c = 0; c < channels; c++) {
          const a = src[(y0 * sw + x0) * channels + c];
          const b = src[(y0 * sw + x1) * channels + c];
          const cc = src[(y1 * sw + x0) * channels + c];
          const d = src[(y1 * sw + x1) * channels + c];
          out[o + c] = (a * (1 - dx) + b * dx) * (1 - dy) + (cc * (1 - dx) + d * dx) * dy;
        }
      }
    }
  }
}

async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code =
      typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
    const reason =
      code === 'ENOENT'
        ? 'folder not found'
        : code === 'ENOTDIR'
          ? 'is a file, not a folder'
          : err instanceof Error
            ? err.message
            : String(err);
    throw new InputError(`cannot read image folder: ${reason}`, dir);
  }
}

/**
 * Load an ImageFolder. Hidden entries and files with other extensions are skipped; a root with no
 * class folders, a class folder with no images, or an undecodable image is an InputError naming
 * the folder or file.
 */
export async function loadImageFolder(
  root: string,
  options: ImageFolderOptions = {},
  ctl: RunControl = {},
): Promise<LabelledData> {
  const entries = await listDir(root);
  const classNames = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort(byName);
  if (classNames.length === 0) {
    throw new InputError(
      'no class folders found: expected root/<class>/<image>.png|jpg|jpeg',
      root,
    );
  }
  const files: { file: string; label: number }[] = [];
  for (let c = 0; c < classNames.length; c++) {
    const dir = path.join(root, classNames[c]);
    const imgs = (await listDir(dir))
      .filter(
        (e) =>
          e.isFile() &&
          !e.name.startsWith('.') &&
          IMAGE_EXT.has(path.extname(e.name).toLowerCase()),
      )
      .map((e) => e.name)
      .sort(byName);
    if (imgs.length === 0) {
      throw new InputError(`class folder '${classNames[c]}' has no .png/.jpg/.jpeg images`, dir);
    }
    for (const f of imgs) files.push({ file: path.join(dir, f), label: c });
  }

  const first = decodeImage(await readInputFile(files[0].file, 'image'), files[0].file);
  const [h, w] = options.size ?? [first.height, first.width];
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) {
    throw new InputError(`image size must be positive integers, got [${h}, ${w}]`, 'size');
  }
  const channels = options.channels ?? (isGrey(first) ? 1 : 3);
  const method = options.resize ?? 'bilinear';
  const per = h * w * channels;
  const x = new Float32Array(files.length * per);
  const labels = new Int32Array(files.length);
  for (let i = 0; i < files.length; i++) {
    if (i % 64 === 0) {
      throwIfAborted(ctl.signal);
      ctl.onProgress?.({ value: i, max: files.length, unit: 'image', label: 'decode' });
      await yieldToEventLoop();
    }
    const img =
      i === 0 ? first : decodeImage(await readInputFile(files[i].file, 'image'), files[i].file);
    if (img.width === 0 || img.height === 0) {
      throw new InputError('image has zero width or height', files[i].file);
    }
    imageToFloat(img, h, w, channels, method, x, i * per);
    labels[i] = files[i].label;
  }
  return { x, sampleShape: [h, w, channels], labels, classNames, source: root };
}
