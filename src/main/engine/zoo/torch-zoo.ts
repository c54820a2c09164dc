/**
 * Model zoos published as PyTorch checkpoints, brought into this app's zoo format:
 *
 * - Schürholt et al.'s model zoos: one folder per model holding `params.json` (the training
 *   config; `model::nlin` names the activation), `result.json` (Ray Tune's log: one JSON object
 *   per line, per epoch: `training_iteration` (else `epoch`), `train_acc`, `test_acc`) and `checkpoint_NNNNNN/
 *   checkpoints`, the state dict after epoch NNNNNN (`module_list.{i}.weight/bias`). Epoch 0
 *   (the untrained initialisation) is skipped: our members are trained checkpoints, epoch ≥ 1.
 * - p-diff's checkpoint folders: `.pt`/`.pth` state dicts of one model saved along its training
 *   (e.g. `p_data_0.pt`, …), taken in natural name order as epochs 1, 2, …. p-diff records no
 *   accuracy per checkpoint, so the members' accuracies are 0 (unknown).
 *
 * Only MLPs (chains of Linear layers) map onto our architectures without changing what they
 * compute; PyTorch's Linear weight [out, in] is transposed to our [in, out]. Every model must
 * have the same layers and the same checkpoint epochs; anything else is an InputError naming the
 * model, the file or the tensor. All members form one seen task over all K classes.
 */
import type { Dirent } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';
import {
  ZOO_FORMAT,
  type Activation,
  type ZooManifest,
  type ZooMember,
} from '../../../shared/schemas/zoo.ts';
import { InputError } from '../errors.ts';
import { readTorchStateDict } from '../formats/torch.ts';
import { architectureToJson, layoutOf, layoutToJson, type Layout } from '../nn/architecture.ts';
import { layerPairs, mlpFromPairs, pairsToVector } from '../nn/state-dict.ts';
import {
  importZoo,
  issueList,
  loadZoo,
  MANIFEST_FILE,
  MEMBERS_PER_SHARD,
  shardName,
  type Zoo,
} from './storage.ts';
import { errorMessage } from '../../../shared/errors.ts';
import { errnoCode } from '../formats/file-errors.ts';
import { parseJsonText } from '../formats/json-file.ts';

/** Zoo layouts read: ours, Schürholt's model zoos, p-diff's checkpoint folders. */
export type ZooFormat = 'd2nwg' | 'schurholt' | 'pdiff';

export interface ForeignZooOptions {
  /** Nonlinearity of the imported MLPs (Schürholt: from params.json when unset; p-diff: relu). */
  readonly activation?: Activation;
  /**
   * Checks (and may rewrite) each path before it is read: the app's path policy, so a symlink in
   * a zoo folder cannot reach outside the allowed folders. Default: no check.
   */
  readonly checkRead?: (file: string) => Promise<string>;
}

const byName = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new InputError(`cannot list the folder: ${errorMessage(err)}`, dir);
  }
}

const isTorchFile = (name: string): boolean => /\.(pt|pth)$/i.test(name);

/** Which layout a zoo folder has: manifest.json → ours, model folders → Schürholt, .pt → p-diff. */
export async function detectZooFormat(dir: string): Promise<ZooFormat> {
  const entries = await listDir(dir);
  if (entries.some((e) => e.name === MANIFEST_FILE && e.isFile())) return 'd2nwg';
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const inner = await listDir(path.join(dir, e.name));
    if (inner.some((f) => f.name === 'params.json')) return 'schurholt';
  }
  if (entries.some((e) => e.isFile() && isTorchFile(e.name))) return 'pdiff';
  throw new InputError(
    `not a zoo folder: no ${MANIFEST_FILE} (this app's zoos), no model folders with params.json (Schürholt's model zoos) and no .pt/.pth files (p-diff checkpoints)`,
    dir,
  );
}

/** Activation names of Schürholt's params.json → ours. */
const NLIN: Readonly<Record<string, Activation>> = {
  tanh: 'tanh',
  relu: 'relu',
  leakyrelu: 'leaky_relu',
  leaky_relu: 'leaky_relu',
};

const SchurholtParams = z.looseObject({ 'model::nlin': z.string().optional() });
const ResultLine = z.looseObject({
  training_iteration: z.number().int().min(0).optional(),
  epoch: z.number().int().min(0).optional(),
  train_acc: z.number().min(0).max(1),
  test_acc: z.number().min(0).max(1),
});

async function readText(file: string, opts: ForeignZooOptions): Promise<string> {
  const real = opts.checkRead ? await opts.checkRead(file) : file;
  try {
    return await fsp.readFile(real, 'utf8');
  } catch (err) {
    throw new InputError(
      errnoCode(err) === 'ENOENT' ? 'missing' : `cannot read: ${errorMessage(err)}`,
      file,
    );
  }
}

/** The accuracies per epoch of one Schürholt model (result.json, one JSON object per line). */
async function readResults(
  file: string,
  opts: ForeignZooOptions,
): Promise<Map<number, { trainAcc: number; testAcc: number }>> {
  const out = new Map<number, { trainAcc: number; testAcc: number }>();
  const lines = (await readText(file, opts)).split('\n');
  lines.forEach((text, i) => {
    if (!text.trim()) return;
    // Python's json writes NaN and Infinity bare (a diverged run); read them as null, which the
    // schema then refuses by name if it is an accuracy.
    const json = text.replace(/([:[,]\s*)-?(?:NaN|Infinity)(?=\s*[,}\]])/g, '$1null');
    const r = ResultLine.safeParse(parseJsonText(json, `${file} line ${i + 1}`));
    if (!r.success) throw new InputError(`line ${i + 1}:${issueList(r.error)}`, file);
    // Ray Tune names checkpoint folders after training_iteration; 'epoch' is the fallback.
    const epoch = r.data.training_iteration ?? r.data.epoch;
    if (epoch === undefined) {
      throw new InputError(`line ${i + 1} has neither 'epoch' nor 'training_iteration'`, file);
    }
    const acc = { trainAcc: r.data.train_acc, testAcc: r.data.test_acc };
    const prior = out.get(epoch);
    if (prior && (prior.trainAcc !== acc.trainAcc || prior.testAcc !== acc.testAcc)) {
      throw new InputError(`epoch ${epoch} appears twice with different accuracies`, file);
    }
    out.set(epoch, acc);
  });
  return out;
}

interface Checkpoint {
  readonly file: string;
  readonly epoch: number;
  readonly seed: number;
  readonly trainAcc: number;
  readonly testAcc: number;
}

async function schurholtCheckpoints(
  dir: string,
  opts: ForeignZooOptions,
): Promise<{ checkpoints: Checkpoint[]; activation: Activation }> {
  const models = (await listDir(dir))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort(byName);
  if (models.length === 0) throw new InputError('holds no model folders', dir);
  const checkpoints: Checkpoint[] = [];
  let activation = opts.activation;
  let firstEpochs: { model: string; epochs: number[] } | undefined;
  for (const [seed, model] of models.entries()) {
    const mdir = path.join(dir, model);
    const paramsFile = path.join(mdir, 'params.json');
    const params = SchurholtParams.safeParse(
      parseJsonText(await readText(paramsFile, opts), paramsFile),
    );
    if (!params.success)
      throw new InputError(`invalid params:${issueList(params.error)}`, paramsFile);
    const nlin = params.data['model::nlin'];
    if (!opts.activation && nlin !== undefined) {
      const act = NLIN[nlin.toLowerCase()];
      if (!act) {
        throw new InputError(
          `model::nlin is '${nlin}'; the architectures here use tanh, relu or leaky_relu`,
          paramsFile,
        );
      }
      if (activation && act !== activation) {
        throw new InputError(
          `model::nlin is '${nlin}' but earlier models use ${activation}: a zoo shares one architecture`,
          paramsFile,
        );
      }
      activation = act;
    }
    const results = await readResults(path.join(mdir, 'result.json'), opts);
    const epochs = (await listDir(mdir))
      .map((e) => /^checkpoint_(\d+)$/.exec(e.name))
      .flatMap((m) => (m ? [Number(m[1])] : []))
      .filter((e) => e > 0)
      .sort((a, b) => a - b);
    if (epochs.length === 0) {
      throw new InputError('has no checkpoint_NNNNNN folder after epoch 0', mdir);
    }
    if (!firstEpochs) {
      firstEpochs = { model, epochs };
    } else if (
      epochs.length !== firstEpochs.epochs.length ||
      epochs.some((e, i) => e !== firstEpochs?.epochs[i])
    ) {
      throw new InputError(
        `inconsistent epochs: checkpoints at epochs [${epochs.join(', ')}] but model '${firstEpochs.model}' has [${firstEpochs.epochs.join(', ')}]; every model of a zoo needs the same epochs`,
        mdir,
      );
    }
    for (const epoch of epochs) {
      const acc = results.get(epoch);
      if (!acc) {
        throw new InputError(
          `missing epoch: checkpoint_${String(epoch).padStart(6, '0')} has no line with epoch ${epoch} in result.json`,
          mdir,
        );
      }
      checkpoints.push({
        file: path.join(mdir, `checkpoint_${String(epoch).padStart(6, '0')}`, 'checkpoints'),
        epoch,
        seed,
        ...acc,
      });
    }
  }
  if (!activation) {
    throw new InputError(
      "params.json names no activation (model::nlin): set the import's activation",
      dir,
    );
  }
  return { checkpoints, activation };
}

async function pdiffCheckpoints(dir: string): Promise<Checkpoint[]> {
  const files = (await listDir(dir))
    .filter((e) => e.isFile() && isTorchFile(e.name))
    .map((e) => e.name)
    .sort(byName);
  if (files.length === 0) throw new InputError('holds no .pt/.pth checkpoints', dir);
  return files.map((f, i) => ({
    file: path.join(dir, f),
    epoch: i + 1,
    seed: 0,
    trainAcc: 0,
    testAcc: 0,
  }));
}

/** Read a Schürholt or p-diff zoo folder into a zoo (in memory; see importTorchZoo to save it). */
export async function readTorchZoo(
  dir: string,
  format: 'schurholt' | 'pdiff',
  opts: ForeignZooOptions = {},
): Promise<Zoo> {
  const { checkpoints, activation } =
    format === 'schurholt'
      ? await schurholtCheckpoints(dir, opts)
      : { checkpoints: await pdiffCheckpoints(dir), activation: opts.activation ?? 'relu' };
  let layout: Layout | undefined;
  const rows: Float32Array[] = [];
  for (const c of checkpoints) {
    const real = opts.checkRead ? await opts.checkRead(c.file) : c.file;
    const tensors = await readTorchStateDict(real);
    const pairs = layerPairs(tensors, 'torch', c.file);
    layout ??= layoutOf(mlpFromPairs(pairs, activation, c.file));
    rows.push(pairsToVector(layout, pairs, 'torch', c.file).vector);
  }
  if (!layout) throw new InputError('holds no checkpoints', dir);
  const d = layout.size;
  const vectors = new Float32Array(rows.length * d);
  rows.forEach((r, i) => vectors.set(r, i * d));
  const k = layout.arch.outputs;
  const classes = Array.from({ length: k }, (_, i) => i);
  const members: ZooMember[] = checkpoints.map((c, index) => ({
    index,
    taskId: 'all',
    classes,
    seed: c.seed,
    epoch: c.epoch,
    trainAcc: c.trainAcc,
    testAcc: c.testAcc,
    shard: shardName(Math.floor(index / MEMBERS_PER_SHARD)),
    tensorName: `m${index}`,
  }));
  const manifest: ZooManifest = {
    format: ZOO_FORMAT,
    created: new Date().toISOString(),
    arch: architectureToJson(layout.arch),
    layout: layoutToJson(layout),
    dataset: {
      source: null,
      id: `${format}:${path.basename(path.resolve(dir))}`,
      classNames: classes.map(String),
    },
    features: null,
    tasks: {
      config: null,
      heldOut: [],
      list: [{ id: 'all', classes, split: 'seen', trainCount: 0, testCount: 0 }],
    },
    members,
    config: null,
  };
  return { manifest, vectors };
}

/** Any supported zoo folder as a zoo; `format` undefined or 'auto' detects it. */
export async function loadAnyZoo(
  dir: string,
  format: ZooFormat | 'auto' = 'auto',
  opts: ForeignZooOptions = {},
): Promise<Zoo> {
  const f = format === 'auto' ? await detectZooFormat(dir) : format;
  return f === 'd2nwg' ? loadZoo(dir) : readTorchZoo(dir, f, opts);
}

/** Read a zoo of any supported format from `src` and write it to `out` in this app's format. */
export async function importAnyZoo(
  src: string,
  out: string,
  format: ZooFormat | 'auto' = 'auto',
  opts: ForeignZooOptions = {},
): Promise<Zoo> {
  return importZoo(src, out, (dir) => loadAnyZoo(dir, format, opts));
}
