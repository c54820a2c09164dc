/**
 * Helpers every node run function shares: binding to its spec with the app's port value union,
 * safe file names, refusing to run when an engine part is missing,
 * and picking the tasks of a split.
 */
import type { z } from 'zod';
import type { NodeSpec, PortSpec } from '../../shared/nodes/spec.ts';
import type { TaskSplit } from '../../shared/nodes/eval-finetune.ts';
import type { TaskSpec } from '../engine/data/types.ts';
import { InputError } from '../engine/errors.ts';
import type { ProgressFn, RunControl } from '../engine/progress.ts';
import {
  defineRunner,
  type NodeContext,
  type NodeResult,
  type NodeRunner,
} from '../graph/types.ts';
import { ACCURACY_PREFIX, accuracyKeyTail } from '../../shared/schemas/accuracy.ts';
import {
  inputsOf,
  type InputsOf,
  type MethodResult,
  type PortValue,
  type TasksValue,
} from './values.ts';

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

/**
 * A registered node whose engine part is not in this build: it refuses to run, naming what is
 * missing, rather than pretending.
 */
export function missingEngine(type: string, what: string): NodeRunner<PortValue> {
  return async () => {
    throw new Error(`node type '${type}' cannot run in this build: ${what} is not implemented yet`);
  };
}

/** A task or node id made safe as a file or folder name (never `.` or `..`). */
export function safeName(s: string): string {
  return s.replace(/[^\w.-]+/g, '_').replace(/^\.+$/, (dots) => '_'.repeat(dots.length));
}

/** The RunControl engine functions take, from a node context. */
export function controlOf(ctx: NodeContext<unknown>, label?: string): RunControl {
  const onProgress: ProgressFn = label
    ? (p) => ctx.progress({ ...p, label: p.label ? `${label}: ${p.label}` : label })
    : (p) => ctx.progress(p);
  return { signal: ctx.signal, onProgress };
}

/** The tasks of a split, at most `max` of them (the first ones), refusing an empty selection. */
export function tasksOfSplit(
  tasks: TasksValue,
  split: TaskSplit,
  max: number,
  where: string,
): TaskSpec[] {
  const bySplit: Record<TaskSplit, readonly TaskSpec[]> = {
    seen: tasks.tasks.seen,
    'unseen-combo': tasks.tasks.unseenCombo,
    'unseen-class': tasks.tasks.unseenClass,
    'unseen-dataset': tasks.tasks.unseenDataset ?? [],
  };
  const all = bySplit[split];
  if (all.length === 0) {
    throw new InputError(
      split === 'unseen-dataset'
        ? "no 'unseen-dataset' tasks here: connect the Tasks and Features outputs of an Unseen-dataset tasks node"
        : `the Tasks node drew no '${split}' tasks; raise its count or pick another split`,
      where,
    );
  }
  return all.slice(0, max);
}

/** Store metric keys of result rows: `accuracy/<split>/<method>@<epoch>` (mean over tasks). */
export function tableMetrics(results: readonly MethodResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) {
    r.epochs.forEach((e, i) => {
      out[`${ACCURACY_PREFIX}${accuracyKeyTail(r.method, r.split)}@${e}`] = r.mean[i];
    });
  }
  return out;
}

/**
 * The summary of an evaluation node: its result rows as a table (method, split, mean and std over
 * the split's tasks at each epoch, task count), as the CLI prints it and runs.compare reads the
 * std from, and the means as store metrics.
 */
export function resultSummary(method: string | null, results: readonly MethodResult[]) {
  return {
    ...(method !== null ? { method } : {}),
    splits: [...new Set(results.map((r) => r.split))],
    table: results.map((r) => ({
      method: r.method,
      split: r.split,
      epochs: [...r.epochs],
      mean: [...r.mean],
      std: [...r.std],
      tasks: r.perTask.length,
    })),
    metrics: tableMetrics(results),
  };
}
