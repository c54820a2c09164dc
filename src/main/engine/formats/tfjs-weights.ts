/**
 * The weights of a tfjs LayersModel (`model.json` + its weight files) read as named tensors,
 * without tfjs: the JSON's weightsManifest lists, per group, the files (relative to model.json)
 * and the tensors they hold back to back. Paths must stay inside the model's folder, dtypes must
 * be float32 or int32 (quantised weights are refused), and every byte count is checked.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { issueList } from '../zoo/storage.ts';
import type { NamedTensor } from './torch.ts';
import { errorMessage } from '../../../shared/errors.ts';

const WeightSpec = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().min(0)),
  dtype: z.enum(['float32', 'int32']),
  quantization: z.unknown().optional(),
});

const ModelJson = z.object({
  weightsManifest: z
    .array(z.object({ paths: z.array(z.string().min(1)), weights: z.array(WeightSpec) }))
    .min(1),
});

/**
 * Read the weights of the LayersModel whose model.json is `file`. `checkRead` (the app's path
 * policy) vets each weight file before it is read, so a symlink cannot lead outside.
 */
export async function readTfjsWeights(
  file: string,
  checkRead: (file: string) => Promise<string> = async (f) => f,
): Promise<Map<string, NamedTensor>> {
  let json: unknown;
  try {
    json = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (err) {
    throw new InputError(`cannot read a tfjs model.json: ${errorMessage(err)}`, file);
  }
  const r = ModelJson.safeParse(json);
  if (!r.success)
    throw new InputError(`not a tfjs LayersModel model.json:${issueList(r.error)}`, file);
  const dir = path.dirname(path.resolve(file));
  const out = new Map<string, NamedTensor>();
  for (const group of r.data.weightsManifest) {
    const chunks: Uint8Array[] = [];
    for (const p of group.paths) {
      const abs = path.resolve(dir, p);
      if (path.isAbsolute(p) || path.relative(dir, abs).split(path.sep).includes('..')) {
        throw new InputError(`weight file '${p}' lies outside the model's folder`, file);
      }
      try {
        chunks.push(await fsp.readFile(await checkRead(abs)));
      } catch (err) {
        throw new InputError(`cannot read weight file '${p}': ${errorMessage(err)}`, file);
      }
    }
    const bytes = Buffer.concat(chunks);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    for (const w of group.weights) {
      if (w.quantization !== undefined) {
        throw new InputError(
          `weight '${w.name}' is quantised; only float32 weights are read`,
          file,
        );
      }
      const count = w.shape.reduce((a, b) => a * b, 1);
      if (at + count * 4 > bytes.length) {
        throw new InputError(
          `weight '${w.name}' [${w.shape.join(', ')}] runs past the end of its files (${bytes.length} bytes)`,
          file,
        );
      }
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        data[i] =
          w.dtype === 'float32'
            ? view.getFloat32(at + 4 * i, true)
            : view.getInt32(at + 4 * i, true);
      }
      at += count * 4;
      if (out.has(w.name)) throw new InputError(`weight '${w.name}' is listed twice`, file);
      out.set(w.name, { shape: [...w.shape], data, dtype: w.dtype });
    }
    if (at !== bytes.length) {
      throw new InputError(
        `the weight files hold ${bytes.length} bytes but the manifest lists ${at}`,
        file,
      );
    }
  }
  return out;
}
