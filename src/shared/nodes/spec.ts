/**
 * What a node type is, seen from everywhere: the canvas (ports, forms), the executor (validation,
 * caching) and the engine side (`src/main/nodes/<type>.ts` implements `run`). Pure data + zod.
 */
import type { z } from 'zod';

/**
 * Port data types. The same value drives the engine's input checks and the canvas's
 * isValidConnection: an output connects to an input only when their types are equal.
 */
export const PORT_TYPES = [
  'dataset',
  'tasks',
  'features',
  'zoo',
  'vae',
  'encoder',
  'diffusion',
  'weights',
  'metrics',
] as const;
export type PortType = (typeof PORT_TYPES)[number];

export interface PortSpec {
  /** Stable id, unique among the node's inputs (or outputs). Saved in pipeline edges. */
  readonly id: string;
  /** Label on the canvas. */
  readonly label: string;
  readonly type: PortType;
  /** An input the node can run without. */
  readonly optional?: boolean;
  /** An input that accepts several edges (e.g. Compare collecting metrics). */
  readonly multiple?: boolean;
  /**
   * Carrier inputs of the same node, in order of preference: when this input has no edge, its
   * value is the one of its type that the first of them carries (see inherit.ts), e.g. an
   * Encoder's `zoo` taken from its `vae`. Validation accepts the input unwired when a carrier
   * carries it. Not for optional inputs (an absent optional input changes what a node does).
   */
  readonly inheritFrom?: readonly string[];
  /**
   * When this input is wired and its first carrier carries another value of its type: 'error'
   * (the default) refuses the pipeline, since that mixes e.g. a VAE with an encoder trained on
   * another VAE; 'override' lets the edge win (a Sampler's target tasks may be another task set
   * than the one its model was trained on).
   */
  readonly onConflict?: 'error' | 'override';
}

export const NODE_CATEGORIES = [
  'Data',
  'Features',
  'Zoo',
  'Model',
  'Sampling',
  'Evaluation',
  'Output',
] as const;
export type NodeCategory = (typeof NODE_CATEGORIES)[number];

export interface NodeSpec<
  C extends z.ZodType = z.ZodType,
  T extends string = string,
  I extends readonly PortSpec[] = readonly PortSpec[],
> {
  /** Type id, e.g. 'dataset.source'. Unique in the registry. */
  readonly type: T;
  /** Bumped when the config schema changes; saved pipelines carry it and migrate. */
  readonly version: number;
  readonly category: NodeCategory;
  /** Name on the palette and the node header. */
  readonly title: string;
  /** A paragraph of help: what it does, what its config means. */
  readonly help: string;
  /** zod schema of the config, with defaults: `config.parse({})` gives a valid default config. */
  readonly config: C;
  /** Input ports; `defineNode` keeps their ids and types literal, so run code reads `inputs.zoo`. */
  readonly inputs: I;
  readonly outputs: readonly PortSpec[];
  /** Outputs depend only on (type, version, config, inputs): the executor may reuse them. */
  readonly cacheable: boolean;
  /**
   * Upgrade a config saved with an older `fromVersion` to this version's shape (the result is
   * then parsed by `config`). Needed as soon as `version` is bumped; pipelines keep working.
   */
  migrate?(config: unknown, fromVersion: number): unknown;
}

/**
 * Declare a spec with its type id kept as a string literal, so the registry can derive the
 * `NodeType` union from what is registered rather than from a hand-kept list, and its input
 * ports kept literal, so a node's run function gets `inputs.<port id>` typed by the port.
 */
export function defineNode<
  T extends string,
  C extends z.ZodType,
  const I extends readonly PortSpec[],
>(spec: NodeSpec<C, T, I>): NodeSpec<C, T, I> {
  return spec;
}

/**
 * The registry of node types; throws on a duplicate id. `T` accumulates the registered type ids
 * so that `NodeTypeOf<typeof registry>` is the union of what was really registered.
 */
export class NodeRegistry<T extends string = string> {
  private readonly specs = new Map<string, NodeSpec>();

  register<S extends NodeSpec<z.ZodType, string>>(spec: S): NodeRegistry<T | S['type']> {
    if (this.specs.has(spec.type)) throw new Error(`node type '${spec.type}' is registered twice`);
    const ids = (ports: readonly PortSpec[], side: string) => {
      const seen = new Set<string>();
      for (const p of ports) {
        if (seen.has(p.id))
          throw new Error(`node type '${spec.type}': duplicate ${side} port '${p.id}'`);
        seen.add(p.id);
      }
    };
    ids(spec.inputs, 'input');
    ids(spec.outputs, 'output');
    for (const p of spec.inputs) {
      const bad = (p.inheritFrom ?? []).filter(
        (c) => c === p.id || !spec.inputs.some((q) => q.id === c),
      );
      if (bad.length)
        throw new Error(
          `node type '${spec.type}': input '${p.id}' inherits from unknown inputs ${bad.join(', ')}`,
        );
      if (p.inheritFrom && (p.optional || p.multiple))
        throw new Error(
          `node type '${spec.type}': input '${p.id}' is optional or multiple and cannot inherit`,
        );
    }
    this.specs.set(spec.type, spec);
    return this;
  }

  /** The registered type ids, in registration order. */
  types(): T[] {
    return [...this.specs.keys()] as T[];
  }

  get(type: string): NodeSpec | undefined {
    return this.specs.get(type);
  }

  has(type: string): boolean {
    return this.specs.has(type);
  }

  list(): NodeSpec[] {
    return [...this.specs.values()];
  }
}

/** The union of type ids registered in a registry value's type. */
export type NodeTypeOf<R> = R extends NodeRegistry<infer T> ? T : never;
