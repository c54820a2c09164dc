import { describe, expect, it } from 'vitest';
import { sweepableFields } from '../../src/renderer/src/features/sweeps/fields.ts';
import { SPECS } from '../helpers/specs.ts';

const specs = new Map(SPECS.map((s) => [s.type, s]));

describe('sweepableFields', () => {
  it('lists every leaf of every node config as node.field, nested and union fields included', () => {
    const fields = sweepableFields(
      [
        { id: 'tasks', type: 'tasks.generate' },
        { id: 'feat', type: 'features.extract' },
        { id: 'gone', type: 'no.such.type' },
      ],
      specs,
    );
    expect(fields).toContain('tasks.k');
    expect(fields).toContain('tasks.numSeen');
    // A union of extractors: the discriminator and each variant's fields.
    expect(fields).toContain('feat.extractor.kind');
    expect(fields).toContain('feat.extractor.components');
    // Node order is kept, each path once, nothing for an unknown type.
    expect(fields.indexOf('tasks.k')).toBeLessThan(fields.indexOf('feat.extractor.kind'));
    expect(new Set(fields).size).toBe(fields.length);
    expect(fields.some((f) => f.startsWith('gone.'))).toBe(false);
    expect(fields.some((f) => f.endsWith('.extractor'))).toBe(false);
  });
});
