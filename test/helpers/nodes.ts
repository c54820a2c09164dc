/**
 * Calling node run functions directly: a NodeContext that records what the node reports, inputs
 * wired by port id, the check that a promise fails with an InputError, and a toy-sized upstream
 * chain (embedded Fashion-MNIST → tasks → PCA features → zoo → VAE → encoder → diffusion →
 * samples) built with the real runners, each stage at most once per test file.
 */
import { expect } from 'vitest';
import type { PortType } from '../../src/shared/nodes/spec.ts';
import type { WrittenArtifact } from '../../src/shared/runs.ts';
import { InputError } from '../../src/main/engine/errors.ts';
import type { Progress } from '../../src/main/engine/progress.ts';
import { Rng } from '../../src/main/engine/rng.ts';
import type { NodeContext, NodeInputs, NodeResult } from '../../src/main/graph/types.ts';
import { unrestrictedPolicy, type PathPolicy } from '../../src/main/paths/policy.ts';
import { runners } from '../../src/main/nodes/index.ts';
import type { NodeType } from '../../src/shared/nodes/registry.ts';
import type { PortValue, ValueOf } from '../../src/main/nodes/values.ts';

/** The run seed every helper uses unless told otherwise. */
export const SEED = 5;

/** What a node reported through its context. */
export interface Recorded {
  readonly logs: string[];
  readonly progress: Progress[];
  readonly artifacts: WrittenArtifact[];
}

export interface ContextOptions {
  /** Node type: the context's stream is forked from the seed by it, as the executor does. */
  readonly type?: string;
  readonly nodeId?: string;
  readonly runId?: string;
  readonly config?: unknown;
  readonly seed?: number;
  readonly dataDir?: string;
  readonly paths?: PathPolicy;
  readonly signal?: AbortSignal;
}

/** A context as the executor builds it (unthrottled), recording logs, progress and artifacts. */
export function nodeContext(opts: ContextOptions = {}): { ctx: NodeContext; recorded: Recorded } {
  const recorded: Recorded = { logs: [], progress: [], artifacts: [] };
  const seed = opts.seed ?? SEED;
  const dataDir = opts.dataDir ?? '/tmp';
  const ctx: NodeContext = {
    runId: opts.runId ?? 'run-1',
    nodeId: opts.nodeId ?? 'node',
    config: opts.config ?? {},
    seed,
    rng: new Rng(seed).fork(opts.type ?? 'test'),
    signal: opts.signal ?? new AbortController().signal,
    progress: (p) => void recorded.progress.push(p),
    log: (m) => void recorded.logs.push(m),
    artifact: (a) => void recorded.artifacts.push(a),
    dataDir,
    paths: opts.paths ?? unrestrictedPolicy(dataDir),
  };
  return { ctx, recorded };
}

/** Inputs by port id: one value, a list (a `multiple` port) or nothing (unconnected). */
export function wire(
  ports: Readonly<Record<string, PortValue | readonly PortValue[] | undefined>>,
): NodeInputs<PortValue> {
  const out: Record<string, readonly PortValue[]> = {};
  for (const [id, v] of Object.entries(ports)) {
    out[id] = v === undefined ? [] : Array.isArray(v) ? v : [v];
  }
  return out;
}

function isOf<T extends PortType>(v: PortValue, type: T): v is ValueOf<T> {
  return v.type === type;
}

/** The value on output port `port`, checked to carry port type `type`. */
export function output<T extends PortType>(
  result: NodeResult<PortValue>,
  port: string,
  type: T,
): ValueOf<T> {
  const v = result.outputs[port];
  if (v === undefined) throw new Error(`no output '${port}'`);
  if (!isOf(v, type)) throw new Error(`output '${port}' carries '${v.type}', expected '${type}'`);
  return v;
}

/** A number of a node summary's metrics (fails the test when it is missing). */
export function metric(result: NodeResult<PortValue>, key: string): number {
  const v = result.summary?.metrics?.[key];
  expect(v, `summary metric '${key}'`).toBeTypeOf('number');
  return v ?? NaN;
}

/** Assert that `p` rejects with an InputError whose message matches `message`; returns it. */
export async function expectInputError(p: Promise<unknown>, message: RegExp): Promise<InputError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof InputError)) {
    throw new Error(
      `expected an InputError, got ${err instanceof Error ? err.stack : String(err)}`,
    );
  }
  expect(err.message).toMatch(message);
  return err;
}

/** Run the registered runner of `type` with `config` and inputs; the context is recorded too. */
export async function runNode(
  type: NodeType,
  config: unknown,
  inputs: NodeInputs<PortValue> = {},
  opts: Omit<ContextOptions, 'type' | 'config'> = {},
): Promise<{ result: NodeResult<PortValue>; recorded: Recorded }> {
  const { ctx, recorded } = nodeContext({ nodeId: type, ...opts, type, config });
  return { result: await runners[type](ctx, inputs), recorded };
}

/**
 * Toy configs of each upstream stage: 3-class tasks with 10 train / 10 test samples per class,
 * 6 PCA features, a 12-member zoo of [6 → 4 → 3] MLPs, a 4-d latent space.
 */
export const TINY = {
  tasks: {
    k: 3,
    nTrain: 10,
    nTest: 10,
    heldOutClasses: 1,
    numSeen: 3,
    numUnseenCombo: 1,
    numUnseenClass: 1,
  },
  features: { extractor: { kind: 'pca', components: 6 } },
  zoo: {
    architecture: { kind: 'mlp', hidden: [4] },
    train: { epochs: 3, keepLast: 2, seeds: 2, batchSize: 10, lr: 0.01 },
    workers: 0,
  },
  vae: { hidden: [16], latentDim: 4, epochs: 3, batchSize: 4 },
  encoder: { epochs: 2, dModel: 8, inducing: 2, embedDim: 4, perClass: 3 },
  diffusion: {
    timesteps: 50,
    steps: 10,
    batchSize: 4,
    denoiser: { width: 8, depth: 1, timeEmbDim: 8 },
  },
  sampler: { sampler: 'ddim', steps: 5, samplesPerTask: 2, splits: ['seen'], maxTasks: 1 },
} as const;

/**
 * The tiny pipeline's stages on demand, each built once with the real runners and the TINY
 * configs (a stage builds the ones it needs). `dispose()` frees the models' tensors.
 */
export class TinyChain {
  private readonly memo = new Map<string, Promise<PortValue>>();

  private stage<T extends PortType>(
    type: NodeType,
    port: T,
    config: unknown,
    inputs: () => Promise<NodeInputs<PortValue>>,
  ): Promise<ValueOf<T>> {
    let p = this.memo.get(type);
    if (!p) {
      p = inputs()
        .then((ins) => runNode(type, config, ins))
        .then(({ result }) => output(result, port, port));
      this.memo.set(type, p);
    }
    return p.then((v) => {
      if (!isOf(v, port)) throw new Error(`stage ${type} gave '${v.type}'`);
      return v;
    });
  }

  dataset() {
    return this.stage('dataset.source', 'dataset', {}, async () => ({}));
  }
  tasks() {
    return this.stage('tasks.generate', 'tasks', TINY.tasks, async () =>
      wire({ dataset: await this.dataset() }),
    );
  }
  features() {
    return this.stage('features.extract', 'features', TINY.features, async () =>
      wire({ dataset: await this.dataset(), tasks: await this.tasks() }),
    );
  }
  zoo() {
    return this.stage('zoo.build', 'zoo', TINY.zoo, async () =>
      wire({ features: await this.features(), tasks: await this.tasks() }),
    );
  }
  vae() {
    return this.stage('model.vae', 'vae', TINY.vae, async () => wire({ zoo: await this.zoo() }));
  }
  /** The inputs the encoder, diffusion and sampler nodes share. */
  async trained(): Promise<{
    zoo: ValueOf<'zoo'>;
    vae: ValueOf<'vae'>;
    features: ValueOf<'features'>;
    tasks: ValueOf<'tasks'>;
  }> {
    return {
      zoo: await this.zoo(),
      vae: await this.vae(),
      features: await this.features(),
      tasks: await this.tasks(),
    };
  }
  encoder() {
    return this.stage('model.encoder', 'encoder', TINY.encoder, async () =>
      wire(await this.trained()),
    );
  }
  diffusion() {
    return this.stage('model.diffusion', 'diffusion', TINY.diffusion, async () =>
      wire({ ...(await this.trained()), encoder: await this.encoder() }),
    );
  }
  weights() {
    return this.stage('sample.generate', 'weights', TINY.sampler, async () =>
      wire({
        ...(await this.trained()),
        encoder: await this.encoder(),
        diffusion: await this.diffusion(),
      }),
    );
  }

  /** Free every model built so far (call once, in afterAll). */
  async dispose(): Promise<void> {
    for (const p of this.memo.values()) {
      const v = await p.catch(() => undefined);
      if (v !== undefined && 'dispose' in v) v.dispose();
    }
    this.memo.clear();
  }
}
