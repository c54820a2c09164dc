/**
 * "Pretrained from a file": a user's own checkpoint of the zoo's architecture (the paper's
 * ImageNet column, for any source) as an initialisation. Read from
 *
 * - safetensors with PyTorch names (`<layer>.weight` [out, in] / `<layer>.bias`), e.g. this app's
 *   own safetensors export or `safetensors.torch.save_file(model.state_dict(), …)`;
 * - a tfjs LayersModel (`model.json` + weight files, or the folder holding them);
 * - a PyTorch `.pt` / `.pth` state dict (read without Python, nothing in it is run).
 *
 * Layers map one to one, in natural name order, onto the architecture (nn/state-dict.ts). The
 * body is kept; the head is kept too when its shape fits, and re-initialised for each task when
 * the checkpoint has another number of classes. Anything else that does not fit is an InputError
 * naming the tensor and both shapes.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { InputError } from '../errors.ts';
import { readSafetensors, toF32 } from '../formats/safetensors.ts';
import { readTfjsWeights } from '../formats/tfjs-weights.ts';
import { readTorchStateDict } from '../formats/torch.ts';
import type { Layout } from '../nn/architecture.ts';
import { initParams } from '../nn/params.ts';
import {
  layerPairs,
  pairsToVector,
  type WeightOrder,
  type WeightTensor,
} from '../nn/state-dict.ts';
import type { Rng } from '../rng.ts';
import { errorMessage } from '../../../shared/errors.ts';

/** The kinds of checkpoint file read. */
export type CheckpointKind = 'safetensors' | 'tfjs' | 'torch';

/** A checkpoint mapped onto one layout, ready to initialise tasks. */
export interface PretrainedCheckpoint {
  readonly file: string;
  readonly kind: CheckpointKind;
  /** False when the checkpoint's head has another class count: each task gets a fresh head. */
  readonly headKept: boolean;
  /** The initial weights of one task: the checkpoint, with a head drawn from `rng` if needed. */
  init(rng: Rng): Float32Array;
}

/**
 * The named tensors of a checkpoint file and their memory order. `checkRead` vets the files a
 * tfjs model.json points to (the app's path policy; `file` itself is the caller's to check).
 */
export async function readCheckpointTensors(
  file: string,
  checkRead?: (file: string) => Promise<string>,
): Promise<{
  kind: CheckpointKind;
  order: WeightOrder;
  tensors: Map<string, WeightTensor>;
  file: string;
}> {
  let stat;
  try {
    stat = await fsp.stat(file);
  } catch (err) {
    throw new InputError(`cannot read the checkpoint: ${errorMessage(err)}`, file);
  }
  const ext = path.extname(file).toLowerCase();
  if (stat.isDirectory() || ext === '.json') {
    const json = stat.isDirectory() ? path.join(file, 'model.json') : file;
    const tensors = await readTfjsWeights(checkRead ? await checkRead(json) : json, checkRead);
    return { kind: 'tfjs', order: 'tfjs', tensors, file: json };
  }
  if (ext === '.safetensors') {
    const { tensors } = await readSafetensors(file, { checkFinite: true });
    const out = new Map<string, WeightTensor>();
    for (const [name, t] of Object.entries(tensors)) {
      if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16' && t.dtype !== 'F64') {
        if (name.startsWith('features.')) continue;
        throw new InputError(`tensor '${name}' has dtype ${t.dtype}, expected a float type`, file);
      }
      out.set(name, { shape: t.shape, data: toF32(t) });
    }
    return { kind: 'safetensors', order: 'torch', tensors: out, file };
  }
  if (ext === '.pt' || ext === '.pth' || ext === '.bin' || ext === '.ckpt') {
    return { kind: 'torch', order: 'torch', tensors: await readTorchStateDict(file), file };
  }
  throw new InputError(
    `unknown checkpoint type '${ext || '(no extension)'}': use .safetensors (PyTorch names), a tfjs model.json (or its folder), or a PyTorch .pt/.pth state dict`,
    file,
  );
}

/** Load `file` and map it onto `layout` (see the module comment). */
export async function loadPretrainedFile(
  file: string,
  layout: Layout,
  checkRead?: (file: string) => Promise<string>,
): Promise<PretrainedCheckpoint> {
  const read = await readCheckpointTensors(file, checkRead);
  const where = read.file;
  for (const [name, t] of read.tensors) {
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) {
        throw new InputError(`tensor '${name}' has a non-finite value at index ${i}`, where);
      }
    }
  }
  const pairs = layerPairs(read.tensors, read.order, where);
  const { vector, headFits } = pairsToVector(layout, pairs, read.order, where, true);
  const head = layout.params.slice(-2);
  return {
    file: where,
    kind: read.kind,
    headKept: headFits,
    init(rng: Rng): Float32Array {
      if (headFits) return vector.slice();
      const out = initParams(layout, rng);
      const start = head[0].offset;
      out.set(vector.subarray(0, start), 0);
      return out;
    },
  };
}
