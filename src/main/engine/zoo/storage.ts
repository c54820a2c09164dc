/**
 * Zoo storage: safetensors shards (one 1-D F32 tensor `m{index}` per member, at most
 * MEMBERS_PER_SHARD per file) plus manifest.json, the layout and provenance of every vector.
 * safetensors keeps the zoo readable from PyTorch/NumPy; the manifest is what makes a vector a
 * model again. Everything read back is validated: a zoo from elsewhere is untrusted input.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';
import {
  ZOO_FORMAT,
  ZooManifestSchema,
  type ZooManifest,
  type ZooMember,
} from '../../../shared/schemas/zoo.ts';
import { formatIssues } from '../../../shared/issues.ts';
import { InputError } from '../errors.ts';
import { readSafetensors, toF32, writeSafetensors, type StTensor } from '../formats/safetensors.ts';
import { writeFileAtomic } from '../formats/atomic.ts';
import { readExtractor, saveExtractor, type FeatureExtractor } from '../features/extractor.ts';
import {
  describeLayout,
  inputSize,
  layoutOf,
  sameLayout,
  type Layout,
} from '../nn/architecture.ts';
import { readJson } from '../formats/json-file.ts';

/** Members per shard file: keeps each file a few MB for MLP zoos, so no single read is huge. */
export const MEMBERS_PER_SHARD = 256;
/** File name of the manifest inside a zoo folder. */
export const MANIFEST_FILE = 'manifest.json';

/** A zoo in memory: the manifest, all member vectors, and the extractor of their inputs. */
export interface Zoo {
  /** Provenance and layout of every member. */
  readonly manifest: ZooManifest;
  /** `members × layout.size` weights, row-major; row i is member i. */
  readonly vectors: Float32Array;
  /** The fitted feature extractor named by manifest.features (absent when that is null). */
  readonly extractor?: FeatureExtractor;
}

/** Shard file name for a shard number. */
export function shardName(shard: number): string {
  return `shard-${String(shard).padStart(5, '0')}.safetensors`;
}

/** The layout of a manifest's architecture (the vectors' layout). */
export function zooLayout(manifest: ZooManifest): Layout {
  return layoutOf(manifest.arch);
}

/** Row `i` of the zoo as its own array (a copy). */
export function memberVector(zoo: Zoo, i: number): Float32Array {
  const d = zoo.manifest.layout.size;
  return zoo.vectors.slice(i * d, (i + 1) * d);
}

/** Check a manifest's internal consistency; throws InputError naming `file`. */
export function checkManifest(manifest: ZooManifest, file: string): Layout {
  const layout = layoutOf(manifest.arch);
  if (!sameLayout(layout, manifest.layout)) {
    throw new InputError(
      `layout does not match the architecture (${describeLayout(layout)}): the vectors cannot be mapped to a model`,
      file,
    );
  }
  const taskIds = new Set(manifest.tasks.list.map((t) => t.id));
  manifest.members.forEach((m, i) => {
    if (m.index !== i) {
      throw new InputError(
        `members[${i}] has index ${m.index}; indices must be 0..n-1 in order`,
        file,
      );
    }
    if (!taskIds.has(m.taskId)) {
      throw new InputError(
        `member ${i} names task '${m.taskId}', which is not in tasks.list`,
        file,
      );
    }
    if (m.classes.length !== manifest.arch.outputs) {
      throw new InputError(
        `member ${i} has ${m.classes.length} classes but the architecture has ${manifest.arch.outputs} outputs`,
        file,
      );
    }
  });
  return layout;
}

function assertMemberVector(
  values: Float32Array,
  layout: Layout,
  member: ZooMember,
  file: string,
): void {
  if (values.length !== layout.size) {
    throw new InputError(
      `member ${member.index} (tensor '${member.tensorName}') has ${values.length} values, the architecture needs ${layout.size}`,
      file,
    );
  }
  for (let j = 0; j < values.length; j++) {
    if (!Number.isFinite(values[j])) {
      throw new InputError(
        `member ${member.index} (tensor '${member.tensorName}') has a non-finite value ${values[j]} at index ${j}`,
        file,
      );
    }
  }
}

/**
 * Write a zoo folder atomically: everything goes to a temp folder next to `dir`, manifest last,
 * which then replaces `dir`. An existing `dir` is replaced only if it is empty or a zoo.
 */
export async function saveZoo(dir: string, zoo: Zoo): Promise<void> {
  const manifestPath = path.join(dir, MANIFEST_FILE);
  const layout = checkManifest(zoo.manifest, manifestPath);
  const n = zoo.manifest.members.length;
  if (zoo.vectors.length !== n * layout.size) {
    throw new Error(
      `zoo has ${zoo.vectors.length} values for ${n} members of ${layout.size} parameters`,
    );
  }
  if (zoo.manifest.features && !zoo.extractor) {
    throw new Error('the manifest names a feature extractor but the zoo carries none');
  }
  if (fs.existsSync(dir)) {
    const entries = await fsp.readdir(dir);
    if (entries.length > 0 && !entries.includes(MANIFEST_FILE)) {
      throw new InputError('the folder exists and is not a zoo; refusing to overwrite it', dir);
    }
  }
  const parent = path.dirname(path.resolve(dir));
  await fsp.mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(parent, `.${path.basename(dir)}.tmp-${tag}`);
  const old = path.join(parent, `.${path.basename(dir)}.old-${tag}`);
  await fsp.mkdir(tmp);
  try {
    const byShard = new Map<string, ZooMember[]>();
    for (const m of zoo.manifest.members) {
      const list = byShard.get(m.shard) ?? [];
      list.push(m);
      byShard.set(m.shard, list);
    }
    for (const [shard, members] of byShard) {
      const tensors: Record<string, StTensor> = {};
      for (const m of members) {
        const values = zoo.vectors.subarray(m.index * layout.size, (m.index + 1) * layout.size);
        assertMemberVector(values, layout, m, shard);
        tensors[m.tensorName] = { dtype: 'F32', shape: [layout.size], data: values };
      }
      await writeSafetensors(path.join(tmp, shard), tensors, {
        format: ZOO_FORMAT,
        members: String(members.length),
      });
    }
    if (zoo.manifest.features && zoo.extractor) {
      await saveExtractor(path.join(tmp, zoo.manifest.features.file), zoo.extractor);
    }
    await writeFileAtomic(
      path.join(tmp, MANIFEST_FILE),
      `${JSON.stringify(zoo.manifest, null, 2)}\n`,
    );
    if (fs.existsSync(dir)) {
      await fsp.rename(dir, old);
      await fsp.rename(tmp, dir);
      await fsp.rm(old, { recursive: true, force: true });
    } else {
      await fsp.rename(tmp, dir);
    }
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/** Every problem of a zod error on its own indented line (`path: message`), for InputErrors. */
export function issueList(error: z.ZodError): string {
  return formatIssues(error)
    .map((line) => `\n  - ${line}`)
    .join('');
}

/** Read and validate manifest.json of a zoo folder. */
export async function readZooManifest(dir: string): Promise<ZooManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  const json = await readJson(file, { missing: 'not found: is this a zoo folder?' });
  const format = (json as { format?: unknown } | null)?.format;
  if (format !== ZOO_FORMAT) {
    throw new InputError(`format is ${JSON.stringify(format)}, expected '${ZOO_FORMAT}'`, file);
  }
  const r = ZooManifestSchema.safeParse(json);
  if (!r.success) throw new InputError(`invalid zoo manifest:${issueList(r.error)}`, file);
  checkManifest(r.data, file);
  return r.data;
}

/**
 * Load a zoo folder, checking that every member exists in its shard with the right length and
 * only finite values. Errors name the shard file and the member.
 */
export async function loadZoo(dir: string): Promise<Zoo> {
  const manifest = await readZooManifest(dir);
  const layout = zooLayout(manifest);
  const d = layout.size;
  const vectors = new Float32Array(manifest.members.length * d);
  const byShard = new Map<string, ZooMember[]>();
  for (const m of manifest.members) {
    const list = byShard.get(m.shard) ?? [];
    list.push(m);
    byShard.set(m.shard, list);
  }
  for (const [shard, members] of byShard) {
    const file = path.join(dir, shard);
    const { tensors } = await readSafetensors(file);
    for (const m of members) {
      const t = tensors[m.tensorName];
      if (!t) {
        throw new InputError(`member ${m.index} (tensor '${m.tensorName}') is missing`, file);
      }
      if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16' && t.dtype !== 'F64') {
        throw new InputError(
          `member ${m.index} (tensor '${m.tensorName}') has dtype ${t.dtype}, expected a float type`,
          file,
        );
      }
      const values = toF32(t);
      assertMemberVector(values, layout, m, file);
      vectors.set(values, m.index * d);
    }
  }
  let extractor: FeatureExtractor | undefined;
  if (manifest.features) {
    const file = path.join(dir, manifest.features.file);
    extractor = await readExtractor(file);
    if (extractor.dim !== manifest.features.dim) {
      throw new InputError(
        `the extractor gives ${extractor.dim} features, the manifest says ${manifest.features.dim}`,
        file,
      );
    }
    if (extractor.dim !== inputSize(manifest.arch)) {
      throw new InputError(
        `the extractor gives ${extractor.dim} values per sample but the architecture takes ${inputSize(manifest.arch)}`,
        file,
      );
    }
  }
  return { manifest, vectors, extractor };
}

/**
 * Bring in a zoo from elsewhere: validate it completely (manifest, every shard and member, the
 * extractor), then write it to `out` in this app's canonical form (F32 shards, the same
 * manifest). Half- or double-precision shards are converted to F32 on the way. `load` reads the
 * source (default: this app's zoo format; zoo/torch-zoo.ts passes its PyTorch zoo readers).
 */
export async function importZoo(
  src: string,
  out: string,
  load: (dir: string) => Promise<Zoo> = loadZoo,
): Promise<Zoo> {
  if (path.resolve(src) === path.resolve(out)) {
    throw new InputError('the import source and destination are the same folder', out);
  }
  const zoo = await load(src);
  await saveZoo(out, zoo);
  return zoo;
}

/** Summary statistics of a zoo, for `d2nwg zoo info` and the app's inspector. */
export interface ZooInfo {
  readonly dir: string;
  readonly format: string;
  readonly created: string;
  readonly dataset: string;
  /** e.g. 'mlp 16→32→5 leaky_relu (709 params)'. */
  readonly arch: string;
  readonly paramCount: number;
  readonly members: number;
  /** Distinct (task, seed) runs. */
  readonly runs: number;
  readonly tasks: {
    readonly seen: number;
    readonly unseenCombo: number;
    readonly unseenClass: number;
  };
  readonly epochs: readonly number[];
  readonly testAcc: { readonly mean: number; readonly min: number; readonly max: number };
  readonly trainAcc: { readonly mean: number; readonly min: number; readonly max: number };
  readonly shards: number;
}

function stats(values: number[]): { mean: number; min: number; max: number } {
  if (values.length === 0) return { mean: NaN, min: NaN, max: NaN };
  return {
    mean: values.reduce((a, b) => a + b, 0) / values.length,
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/** Summarise a zoo; with `verify` every shard is read and checked as loadZoo does. */
export async function zooInfo(dir: string, verify = true): Promise<ZooInfo> {
  const manifest = verify ? (await loadZoo(dir)).manifest : await readZooManifest(dir);
  const layout = zooLayout(manifest);
  const members = manifest.members;
  const count = (split: string): number =>
    manifest.tasks.list.filter((t) => t.split === split).length;
  return {
    dir,
    format: manifest.format,
    created: manifest.created,
    dataset: manifest.dataset.id,
    arch: describeLayout(layout),
    paramCount: layout.size,
    members: members.length,
    runs: new Set(members.map((m) => `${m.taskId}#${m.seed}`)).size,
    tasks: {
      seen: count('seen'),
      unseenCombo: count('unseen-combo'),
      unseenClass: count('unseen-class'),
    },
    epochs: [...new Set(members.map((m) => m.epoch))].sort((a, b) => a - b),
    testAcc: stats(members.map((m) => m.testAcc)),
    trainAcc: stats(members.map((m) => m.trainAcc)),
    shards: new Set(members.map((m) => m.shard)).size,
  };
}
