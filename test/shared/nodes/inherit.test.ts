import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registry } from '../../../src/shared/nodes/registry.ts';
import { NodeRegistry, defineNode } from '../../../src/shared/nodes/spec.ts';
import { validatePipeline } from '../../../src/shared/nodes/validate.ts';
import { parsePipeline, type Pipeline } from '../../../src/shared/pipeline.ts';
import { strictObject } from '../../../src/shared/issues.ts';
import { dropCarriedEdges, effectiveInputs, wireCarriedInputs } from '../../helpers/chain.ts';

const bundled = (name: string): Pipeline => {
  const url = new URL(`../../../resources/pipelines/${name}.json`, import.meta.url);
  const r = parsePipeline(JSON.parse(readFileSync(url, 'utf8')));
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.pipeline;
};
const quickstart = () => bundled('quickstart');

const withEdges = (p: Pipeline, drop: (e: Pipeline['edges'][number]) => boolean, add = []) => ({
  ...p,
  edges: [...p.edges.filter((e) => !drop(e)), ...add],
});
const edge = (source: string, sourcePort: string, target: string, targetPort: string) => ({
  id: `${source}.${sourcePort}->${target}.${targetPort}`,
  source,
  sourcePort,
  target,
  targetPort,
});
const node = (id: string, type: string, config: unknown = {}) => ({
  id,
  type,
  version: registry.get(type)?.version ?? 1,
  config,
  position: { x: 0, y: 0 },
});
const problemsOf = (p: Pipeline, nodeId: string) =>
  validatePipeline(p, registry)
    .problems.filter((q) => q.nodeId === nodeId)
    .map((q) => `${q.code}: ${q.message}`);

describe('inputs carried along the spine', () => {
  it('the bundled pipelines are chains: their edge counts, valid, and the same inputs as fully wired', () => {
    const counts = Object.fromEntries(
      ['quickstart', 'image-folder', 'unseen', 'in-distribution'].map((name) => {
        const p = bundled(name);
        expect(validatePipeline(p, registry).problems, name).toEqual([]);
        // Wiring every carried input explicitly (the pre-chain files) changes no input's source,
        // and nothing more can be dropped.
        const wired = wireCarriedInputs(p);
        const v = validatePipeline(wired, registry);
        expect(v.problems, name).toEqual([]);
        expect(v.inherited.size, name).toBe(0);
        expect(effectiveInputs(wired)).toEqual(effectiveInputs(p));
        expect(dropCarriedEdges(wired).edges.length, name).toBe(p.edges.length);
        return [name, [wired.edges.length, p.edges.length]];
      }),
    );
    expect(counts).toEqual({
      quickstart: [48, 22],
      'image-folder': [48, 22],
      unseen: [47, 21],
      'in-distribution': [70, 34],
    });
  });

  it('resolves an unwired input to what its carrier carries, transitively', () => {
    const v = validatePipeline(quickstart(), registry);
    const from = (n: string, port: string) => v.inherited.get(n)?.get(port);
    expect(from('features', 'dataset')).toEqual({ node: 'data', port: 'dataset', via: 'tasks' });
    expect(from('zoo', 'tasks')).toEqual({ node: 'tasks', port: 'tasks', via: 'features' });
    expect(from('encoder', 'zoo')).toEqual({ node: 'zoo', port: 'zoo', via: 'vae' });
    expect(from('encoder', 'features')).toEqual({ node: 'features', port: 'features', via: 'zoo' });
    expect(from('diffusion', 'vae')).toEqual({ node: 'vae', port: 'vae', via: 'encoder' });
    expect(from('sampler', 'zoo')).toEqual({ node: 'zoo', port: 'zoo', via: 'diffusion' });
    expect(from('eval_d2nwg', 'features')).toEqual({
      node: 'features',
      port: 'features',
      via: 'weights',
    });
    expect(from('eval_zoo', 'tasks')).toEqual({ node: 'tasks', port: 'tasks', via: 'features' });
    expect(from('ref_ncm', 'tasks')).toEqual({ node: 'tasks', port: 'tasks', via: 'features' });
    // Wired inputs and optional ones are never inherited.
    expect(from('encoder', 'vae')).toBeUndefined();
    expect(from('eval_d2nwg', 'zoo')).toBeUndefined();
  });

  it('refuses an unwired input when no carrier is connected, naming both ports', () => {
    const p = withEdges(quickstart(), (e) => e.target === 'encoder');
    expect(problemsOf(p, 'encoder')).toEqual([
      "missing-input: required input 'zoo' (zoo) is not connected, nor is the input it can be taken from ('vae'): connect 'zoo' or 'vae'",
      "missing-input: required input 'vae' (vae) is not connected",
      "missing-input: required input 'features' (features) is not connected, nor is the input it can be taken from ('zoo'): connect 'features' or 'zoo'",
      "missing-input: required input 'tasks' (tasks) is not connected, nor is the input it can be taken from ('features'): connect 'tasks' or 'features'",
    ]);
    // An Evaluate node with neither Weights, Zoo nor VAE has nothing to take its data from.
    const lone = withEdges(quickstart(), (e) => e.target === 'eval_zoo');
    expect(problemsOf(lone, 'eval_zoo')).toContain(
      "missing-input: required input 'features' (features) is not connected, nor is any input it can be taken from ('weights', 'zoo', 'vae'): connect 'features' or 'weights', 'zoo', 'vae'",
    );
  });

  it('refuses an unwired input when its carrier is fed but its chain has no such value', () => {
    // An imported zoo carries no features or tasks: they must be wired.
    const base = quickstart();
    const p: Pipeline = {
      ...base,
      nodes: [...base.nodes, node('imported', 'zoo.import', { dir: 'zoos/x' })],
      edges: [
        ...base.edges.filter((e) => e.target !== 'vae'),
        edge('imported', 'zoo', 'vae', 'zoo'),
      ],
    };
    expect(problemsOf(p, 'encoder')).toEqual([
      "missing-input: required input 'features' (features) is not connected, and the value on 'zoo' does not carry one (its chain has no features): connect 'features'",
      "missing-input: required input 'tasks' (tasks) is not connected, nor is the input it can be taken from ('features'): connect 'tasks' or 'features'",
    ]);
    const fixed = {
      ...p,
      edges: [...p.edges, edge('features', 'features', 'encoder', 'features')],
    };
    expect(problemsOf(fixed, 'encoder')).toEqual([]);
    expect(validatePipeline(fixed, registry).inherited.get('encoder')?.get('tasks')).toEqual({
      node: 'tasks',
      port: 'tasks',
      via: 'features',
    });
  });

  it('refuses a wired input that disagrees with what its carrier carries', () => {
    const base = quickstart();
    const p: Pipeline = {
      ...base,
      nodes: [...base.nodes, node('vae2', 'model.vae')],
      edges: [
        ...base.edges,
        edge('zoo', 'zoo', 'vae2', 'zoo'),
        edge('vae2', 'vae', 'diffusion', 'vae'),
        edge('zoo', 'zoo', 'sampler', 'zoo'),
      ],
    };
    expect(problemsOf(p, 'diffusion')).toEqual([
      "input-conflict: input 'vae' is wired to vae2.vae, but the value on 'encoder' carries vae.vae: remove the edge to 'vae' to use the carried value, or wire both from the same chain",
    ]);
    // The same output wired explicitly agrees with the carried one; an explicit edge is what
    // the value carries downstream (the Sampler's diffusion carries vae2).
    expect(problemsOf(p, 'sampler')).toEqual([]);
    const sampler = { ...p, edges: [...p.edges, edge('vae', 'vae', 'sampler', 'vae')] };
    expect(problemsOf(sampler, 'sampler')).toEqual([
      "input-conflict: input 'vae' is wired to vae.vae, but the value on 'diffusion' carries vae2.vae: remove the edge to 'vae' to use the carried value, or wire both from the same chain",
    ]);
  });

  it("lets a Sampler's target features override the model's, and takes their tasks with them", () => {
    const base = quickstart();
    const unseen = {
      ...base,
      nodes: [
        ...base.nodes,
        node('other', 'dataset.source'),
        node('unseen', 'tasks.unseen-dataset'),
      ],
      edges: [
        ...base.edges,
        edge('other', 'dataset', 'unseen', 'dataset'),
        edge('features', 'features', 'unseen', 'features'),
        edge('unseen', 'features', 'sampler', 'features'),
      ],
    };
    const v = validatePipeline(unseen, registry);
    expect(v.problems).toEqual([]);
    expect(v.inherited.get('unseen')?.get('tasks')).toMatchObject({ node: 'tasks', port: 'tasks' });
    expect(v.inherited.get('sampler')?.get('tasks')).toEqual({
      node: 'unseen',
      port: 'tasks',
      via: 'features',
    });
    // Evaluations of the generated weights follow them to the other dataset's tasks.
    expect(v.inherited.get('eval_d2nwg')?.get('features')).toMatchObject({ node: 'unseen' });
    expect(v.inherited.get('eval_d2nwg')?.get('tasks')).toMatchObject({ node: 'unseen' });
    // Target tasks of one set with features of another is refused.
    const mixed = withEdges(unseen, (e) => e.target === 'sampler' && e.targetPort === 'features', [
      edge('unseen', 'tasks', 'sampler', 'tasks'),
    ] as never[]);
    expect(problemsOf(mixed, 'sampler')).toEqual([
      "input-conflict: input 'tasks' is wired to unseen.tasks, but the value on 'features' carries tasks.tasks: remove the edge to 'tasks' to use the carried value, or wire both from the same chain",
    ]);
  });

  it('refuses specs whose inheritFrom names no input, or an optional input that inherits', () => {
    const spec = (inputs: never) =>
      defineNode({
        type: 't',
        version: 1,
        category: 'Data',
        title: 'T',
        help: '',
        config: strictObject({}),
        inputs,
        outputs: [],
        cacheable: false,
      });
    expect(() =>
      new NodeRegistry().register(
        spec([{ id: 'a', label: 'A', type: 'tasks', inheritFrom: ['nope'] }] as never),
      ),
    ).toThrow("node type 't': input 'a' inherits from unknown inputs nope");
    expect(() =>
      new NodeRegistry().register(
        spec([
          { id: 'a', label: 'A', type: 'tasks', optional: true, inheritFrom: ['b'] },
          { id: 'b', label: 'B', type: 'features' },
        ] as never),
      ),
    ).toThrow("input 'a' is optional or multiple and cannot inherit");
  });
});
