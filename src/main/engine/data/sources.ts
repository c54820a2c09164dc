/**
 * One entry point for every data source a pipeline can name. Many stages (features, tasks, zoo,
 * evaluation) load the same dataset, so decoded datasets are cached in-process, keyed by the
 * resolved source and the files' modification times (an edited file is re-read).
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DatasetSourceSchema,
  type DatasetSource,
  type DatasetSourceInput,
} from '../../../shared/schemas/dataset.ts';
import { formatIssues } from '../../../shared/issues.ts';
import { InputError } from '../errors.ts';
import { loadCsv, loadNpyPair } from './features-file.ts';
import { decodeIdx, idxToLabelled, loadIdxPair, readIdxFiles } from './idx.ts';
import { loadImageFolder } from './imagefolder.ts';
import type { RunControl } from '../progress.ts';
import type { LabelledData } from './types.ts';

/** Fashion-MNIST class names, index = label (Zalando's order). */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** Where Debian's `dataset-fashion-mnist` package puts the files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

const EMBEDDED_SUBDIR = path.join('datasets', 'fashion-mnist');
const T10K = ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'] as const;
const TRAIN = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'] as const;

/**
 * The app's resources folder. `D2NWG_RESOURCES` wins; otherwise walk up from this file (works
 * from src/ under tsx and from the bundled out/main/) to the first folder holding the embedded set.
 */
export function resourcesDir(): string {
  const env = process.env.D2NWG_RESOURCES;
  if (env) return path.resolve(env);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const cand = path.join(dir, 'resources');
    if (fs.existsSync(path.join(cand, EMBEDDED_SUBDIR, T10K[0]))) return cand;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new InputError(
    'cannot find the resources folder with datasets/fashion-mnist; set D2NWG_RESOURCES',
    'D2NWG_RESOURCES',
  );
}

/** Parse a source from JSON (zod); field errors become an InputError naming the field. */
export function parseDatasetSource(input: unknown): DatasetSource {
  const r = DatasetSourceSchema.safeParse(input);
  if (!r.success) throw new InputError(formatIssues(r.error, ['source']).join('; '));
  return r.data;
}

/** A short human id for manifests: 'embedded:fashion-mnist', or the main path. */
export function describeSource(src: DatasetSource): string {
  switch (src.kind) {
    case 'fashion-mnist':
      return src.variant === 'embedded'
        ? 'embedded:fashion-mnist'
        : `fashion-mnist:${src.path ?? DEBIAN_FASHION_MNIST_DIR}`;
    case 'idx':
      return src.images;
    case 'imagefolder':
      return src.root;
    case 'csv':
      return src.path;
    case 'npy':
      return src.x;
  }
}

/** Apply `r` to every path of a source (one place that knows where each kind keeps its paths). */
export function mapSourcePaths(src: DatasetSource, r: (p: string) => string): DatasetSource {
  switch (src.kind) {
    case 'fashion-mnist':
      return src.path ? { ...src, path: r(src.path) } : src;
    case 'idx':
      return { ...src, images: r(src.images), labels: r(src.labels) };
    case 'imagefolder':
      return { ...src, root: r(src.root) };
    case 'csv':
      return { ...src, path: r(src.path) };
    case 'npy':
      return { ...src, x: r(src.x), y: r(src.y) };
  }
}

/** Absolute paths everywhere, so that the cache key does not depend on the working directory. */
function resolvePaths(src: DatasetSource): DatasetSource {
  return mapSourcePaths(src, (p) => path.resolve(p));
}

function fashionFiles(src: Extract<DatasetSource, { kind: 'fashion-mnist' }>): string[][] {
  if (src.variant === 'embedded') {
    const dir = path.join(resourcesDir(), EMBEDDED_SUBDIR);
    return [T10K.map((f) => path.join(dir, f))];
  }
  const dir = src.path ?? DEBIAN_FASHION_MNIST_DIR;
  const sets = [TRAIN, T10K].map((pair) => pair.map((f) => path.join(dir, f)));
  const missing = sets.flat().filter((f) => !fs.existsSync(f));
  if (missing.length > 0) {
    throw new InputError(
      `full Fashion-MNIST not found (missing ${missing.map((m) => path.basename(m)).join(', ')}): install dataset-fashion-mnist or pass path`,
      dir,
    );
  }
  return sets;
}

async function mtimes(files: string[]): Promise<string> {
  const parts = await Promise.all(
    files.map(async (f) => {
      try {
        const st = await fsp.stat(f);
        return `${st.mtimeMs}:${st.size}`;
      } catch {
        return 'missing';
      }
    }),
  );
  return parts.join('|');
}

function filesOf(src: DatasetSource): string[] {
  switch (src.kind) {
    case 'fashion-mnist':
      return fashionFiles(src).flat();
    case 'idx':
      return [src.images, src.labels];
    case 'imagefolder':
      return [src.root];
    case 'csv':
      return [src.path];
    case 'npy':
      return [src.x, src.y];
  }
}

async function loadFashion(
  src: Extract<DatasetSource, { kind: 'fashion-mnist' }>,
): Promise<LabelledData> {
  const sets = fashionFiles(src);
  if (sets.length === 1) {
    const d = await loadIdxPair(sets[0][0], sets[0][1], FASHION_MNIST_CLASSES);
    return { ...d, source: 'embedded:fashion-mnist' };
  }
  const parts: LabelledData[] = [];
  for (const [img, lab] of sets) {
    const [ib, lb] = await readIdxFiles(img, lab);
    parts.push(
      idxToLabelled(decodeIdx(ib, img), decodeIdx(lb, lab), img, lab, FASHION_MNIST_CLASSES),
    );
  }
  const shape = parts[0].sampleShape;
  if (parts.some((p) => p.sampleShape.join('x') !== shape.join('x'))) {
    throw new InputError('train and t10k images have different sizes', path.dirname(sets[0][0]));
  }
  const total = parts.reduce((a, p) => a + p.labels.length, 0);
  const per = shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(total * per);
  const labels = new Int32Array(total);
  let off = 0;
  for (const p of parts) {
    x.set(p.x, off * per);
    labels.set(p.labels, off);
    off += p.labels.length;
  }
  return {
    x,
    sampleShape: shape,
    labels,
    classNames: FASHION_MNIST_CLASSES,
    source: describeSource(src),
  };
}

async function loadUncached(src: DatasetSource, ctl: RunControl): Promise<LabelledData> {
  switch (src.kind) {
    case 'fashion-mnist':
      return loadFashion(src);
    case 'idx':
      return loadIdxPair(src.images, src.labels, src.classNames);
    case 'imagefolder':
      return loadImageFolder(
        src.root,
        {
          size: src.size,
          channels: src.channels,
          resize: src.resize,
        },
        ctl,
      );
    case 'csv':
      return loadCsv(src.path, { labelColumn: src.labelColumn, header: src.header });
    case 'npy':
      return loadNpyPair(src.x, src.y);
  }
}

const cache = new Map<string, Promise<LabelledData>>();

/**
 * Load a dataset from any source (validated with zod). Results are cached and shared: callers
 * must treat the returned arrays as read-only. `ctl` can cancel a long image-folder decode (a
 * cancelled load is not cached).
 */
export async function loadDataset(
  input: DatasetSource | DatasetSourceInput,
  ctl: RunControl = {},
): Promise<LabelledData> {
  const src = resolvePaths(parseDatasetSource(input));
  const key = `${JSON.stringify(src)}#${await mtimes(filesOf(src))}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const p = loadUncached(src, ctl);
  cache.set(key, p);
  p.catch(() => cache.delete(key));
  return p;
}

/** Drop every cached dataset (tests; freeing memory after a run). */
export function clearDatasetCache(): void {
  cache.clear();
}
