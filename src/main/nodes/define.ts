/**
 * Binding a node's run function to its spec and its context: `nodeRunner` types the config and
 * the inputs (`inputs.zoo`) from the spec; `controlOf` hands engine functions the node's cancel
 * signal and progress. The other helpers node run functions share live beside it: the tasks of a
 * split (`split-tasks.ts`), result rows as a summary and metrics (`results.ts`), safe file names
 * (`file-names.ts`).
 */
import type { z } from 'zod';
import type { NodeSpec, PortSpec } from '../../shared/nodes/spec.ts';
import type { ProgressFn, RunControl } from '../engine/progress.ts';
import {
  defineRunner,
  type NodeContext,
  type NodeResult,
  type NodeRunner,
} from '../graph/types.ts';
import { inputsOf, type InputsOf, type PortValue } from './values.ts';

/**
 * A node run function over the app's port values, with its config typed by the spec and its
 * inputs resolved by port id (`inputs.zoo`), typed by the spec's input ports.
 */
export function nodeRunner<C extends z.ZodType, const I extends readonly PortSpec[]>(
  spec: NodeSpec<C, string, I>,
  run: (ctx: NodeContext<z.infer<C>>, inputs: InputsOf<I>) => Promise<NodeResult<PortValue>>,
): NodeRunner<PortValue> {
  return defineRunner<PortValue, C>(spec, (ctx, inputs) => run(ctx, inputsOf(spec.inputs, inputs)));
}

/** The RunControl engine functions take, from a node context. */
export function controlOf(ctx: NodeContext<unknown>, label?: string): RunControl {
  const onProgress: ProgressFn = label
    ? (p) => ctx.progress({ ...p, label: p.label ? `${label}: ${p.label}` : label })
    : (p) => ctx.progress(p);
  return { signal: ctx.signal, onProgress };
}
