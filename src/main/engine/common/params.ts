/**
 * A named set of trainable tensors with seeded initialisation, shared by the weight VAE and the
 * latent diffusion model. Names are ours ('enc.0.w'), not tfjs variable names, so two models with
 * the same layout can live side by side and the names go straight into a safetensors file.
 */
import * as tf from '@tensorflow/tfjs';
import type { StTensor } from '../formats/safetensors.ts';
import { toF32 } from '../formats/safetensors.ts';
import { InputError } from '../errors.ts';
import type { Rng } from '../rng.ts';
import { readF32 } from './readback.ts';

let uid = 0;

/** Named variables in creation order; owns them and disposes them. */
/** One parameter of a model layout: name, shape and how it is initialised. */
export interface ParamDef {
  readonly name: string;
  readonly shape: number[];
  readonly init: 'he' | 'glorot' | 'zero' | 'one';
}

export class ParamSet {
  private readonly vars = new Map<string, tf.Variable>();

  /** @param prefix tag put in the (globally unique) tfjs variable names, for debugging only. */
  constructor(private readonly prefix: string) {}

  /** Names in creation order (the order used by save/load and the optimiser). */
  names(): string[] {
    return [...this.vars.keys()];
  }

  /** Every variable, in creation order. */
  variables(): tf.Variable[] {
    return [...this.vars.values()];
  }

  has(name: string): boolean {
    return this.vars.has(name);
  }

  /** The variable called `name`; a missing name is a programming error. */
  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`${this.prefix}: parameter '${name}' does not exist`);
    return v;
  }

  /** The values as a plain name → tensor map (not copies), for functional forward passes. */
  asRecord(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [k, v] of this.vars) out[k] = v;
    return out;
  }

  /** Create a variable from explicit values. */
  addValues(name: string, shape: number[], values: Float32Array, trainable = true): tf.Variable {
    if (this.vars.has(name)) throw new Error(`${this.prefix}: parameter '${name}' created twice`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (values.length !== size) {
      throw new Error(`${this.prefix}: '${name}' needs ${size} values, got ${values.length}`);
    }
    uid += 1;
    const v = tf.tidy(() =>
      tf.variable(tf.tensor(values, shape, 'float32'), trainable, `${this.prefix}_${name}_${uid}`),
    );
    this.vars.set(name, v);
    return v;
  }

  /** Normal(0, std²) values drawn from `rng`. */
  addNormal(name: string, shape: number[], std: number, rng: Rng): tf.Variable {
    const size = shape.reduce((a, b) => a * b, 1);
    return this.addValues(name, shape, rng.normalArray(size, 0, std));
  }

  /** Constant-filled tensor (biases, norm gains). */
  addConst(name: string, shape: number[], value: number): tf.Variable {
    const size = shape.reduce((a, b) => a * b, 1);
    return this.addValues(name, shape, new Float32Array(size).fill(value));
  }

  /** Total number of scalars. */
  size(): number {
    let s = 0;
    for (const v of this.vars.values()) s += v.size;
    return s;
  }

  /** Values as F32 safetensors entries (copies, read back asynchronously). */
  async toStTensors(): Promise<Record<string, StTensor>> {
    const out: Record<string, StTensor> = {};
    for (const [k, v] of this.vars) {
      out[k] = { dtype: 'F32', shape: [...v.shape], data: await readF32(v) };
    }
    return out;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

/**
 * Build a ParamSet from saved tensors, checking that exactly the expected names and shapes are
 * there (`expected` comes from building the same layout freshly), so a file from another model
 * gives an InputError naming the file and the tensor.
 */
export function paramSetFromStTensors(
  prefix: string,
  tensors: Record<string, StTensor>,
  expected: ReadonlyMap<string, readonly number[]>,
  where: string,
): ParamSet {
  for (const name of Object.keys(tensors)) {
    if (!expected.has(name)) throw new InputError(`unexpected tensor '${name}'`, where);
  }
  const ps = new ParamSet(prefix);
  try {
    for (const [name, shape] of expected) {
      const t = tensors[name];
      if (!t) throw new InputError(`missing tensor '${name}'`, where);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new InputError(
          `tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`,
          where,
        );
      }
      const data = toF32(t);
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i])) {
          throw new InputError(`tensor '${name}' holds a non-finite value at ${i}`, where);
        }
      }
      ps.addValues(name, [...shape], data);
    }
  } catch (err) {
    ps.dispose();
    throw err;
  }
  return ps;
}

/**
 * Build freshly initialised parameters for a layout: zeros/ones as given, weight matrices He or
 * Glorot normal from `rng` (fan-in = shape[0], fan-out = shape[1]). Disposes what it made on error.
 */
export function createParamSet(name: string, defs: readonly ParamDef[], rng: Rng): ParamSet {
  const ps = new ParamSet(name);
  try {
    for (const def of defs) {
      const size = def.shape.reduce((a, b) => a * b, 1);
      if (def.init === 'zero') ps.addConst(def.name, def.shape, 0);
      else if (def.init === 'one') ps.addConst(def.name, def.shape, 1);
      else {
        const fanIn = def.shape[0];
        const fanOut = def.shape[1] ?? 1;
        const std = def.init === 'he' ? Math.sqrt(2 / fanIn) : Math.sqrt(2 / (fanIn + fanOut));
        ps.addValues(def.name, def.shape, rng.normalArray(size, 0, std));
      }
    }
  } catch (err) {
    ps.dispose();
    throw err;
  }
  return ps;
}
