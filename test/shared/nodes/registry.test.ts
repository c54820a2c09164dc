import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { registry, type NodeType } from '../../../src/shared/nodes/registry.ts';
import { defineNode, NodeRegistry, PORT_TYPES } from '../../../src/shared/nodes/spec.ts';

const tiny = defineNode({
  type: 'test.tiny',
  version: 1,
  category: 'Data',
  title: 'Tiny',
  help: 'test',
  config: z.object({ n: z.number().default(1) }),
  inputs: [],
  outputs: [{ id: 'out', label: 'Out', type: 'dataset' }],
  cacheable: true,
});

describe('node registry', () => {
  it('throws on a duplicate type id', () => {
    const r = new NodeRegistry<never>().register(tiny);
    expect(() => r.register(tiny)).toThrow(/registered twice/);
  });

  it('throws on duplicate port ids', () => {
    const bad = defineNode({
      ...tiny,
      type: 'test.bad',
      outputs: [tiny.outputs[0], tiny.outputs[0]],
    });
    expect(() => new NodeRegistry<never>().register(bad)).toThrow(/duplicate output port 'out'/);
  });

  it('derives the NodeType union from what is registered', () => {
    expectTypeOf<'zoo.build'>().toExtend<NodeType>();
    expectTypeOf<'eval.compare'>().toExtend<NodeType>();
    expectTypeOf<'no.such.node'>().not.toExtend<NodeType>();
    const types: NodeType[] = registry.types();
    expect(types).toContain('dataset.source');
  });

  it('has the node types the pipelines need', () => {
    expect(registry.types().sort()).toEqual(
      [
        'dataset.source',
        'eval.compare',
        'eval.finetune',
        'eval.reference',
        'export.weights',
        'features.extract',
        'model.diffusion',
        'model.encoder',
        'model.vae',
        'sample.generate',
        'tasks.generate',
        'tasks.unseen-dataset',
        'zoo.build',
        'zoo.import',
      ].sort(),
    );
  });

  for (const spec of registry.list()) {
    it(`${spec.type}: config.parse({}) gives a valid default that re-parses to itself`, () => {
      const def = spec.config.parse({});
      expect(spec.config.parse(JSON.parse(JSON.stringify(def)))).toEqual(def);
    });
    it(`${spec.type}: has help text, known port types, and a version ≥ 1`, () => {
      expect(spec.help.length).toBeGreaterThan(80);
      expect(spec.version).toBeGreaterThanOrEqual(1);
      for (const p of [...spec.inputs, ...spec.outputs]) expect(PORT_TYPES).toContain(p.type);
    });
  }
});
