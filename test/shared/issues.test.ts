import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  closestKey,
  editDistance,
  formatIssue,
  formatIssuePath,
  strictObject,
  unknownKeyMessage,
} from '../../src/shared/issues.ts';

describe('editDistance (optimal string alignment)', () => {
  it('counts insertions, deletions, substitutions and adjacent transpositions', () => {
    expect(editDistance('epoch', 'epochs')).toBe(1);
    expect(editDistance('epochs', 'epoch')).toBe(1);
    expect(editDistance('lr', 'lt')).toBe(1);
    expect(editDistance('sampels', 'samples')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });
});

describe('closestKey', () => {
  const known = ['epochs', 'batchSize', 'lr', 'keepLast', 'seeds'];
  it('suggests the nearest known key within a third of the length', () => {
    expect(closestKey('epoch', known)).toBe('epochs');
    expect(closestKey('batchsize', known)).toBe('batchSize');
    expect(closestKey('batchSzie', known)).toBe('batchSize');
    expect(closestKey('lrr', known)).toBe('lr');
    expect(closestKey('keeplast', known)).toBe('keepLast');
  });
  it('suggests nothing for keys that are not close', () => {
    expect(closestKey('learningRate', known)).toBeUndefined();
    expect(closestKey('x', ['y', 'z'])).toBeUndefined();
    expect(closestKey('workers', known)).toBeUndefined();
  });
  it('words the message with or without a suggestion', () => {
    expect(unknownKeyMessage('epoch', known)).toBe('`epoch`: unknown key; did you mean `epochs`?');
    expect(unknownKeyMessage('colour', ['x', 'y'])).toBe(
      '`colour`: unknown key; known keys: `x`, `y`',
    );
  });
});

describe('strictObject', () => {
  const Train = strictObject({ epochs: z.number().default(30), lr: z.number().default(1e-3) });
  const Outer = strictObject({ train: Train.prefault({}), name: z.string().default('') });

  it('refuses an unknown key at any depth, naming it and the key meant', () => {
    const r = Outer.safeParse({ train: { epoch: 4 } });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => formatIssue(i, ['config']))).toEqual([
      'config.train: `epoch`: unknown key; did you mean `epochs`?',
    ]);
  });

  it('keeps strictness and suggestions through extend and pick', () => {
    const Extended = Train.extend({ samplesPerTask: z.number().default(1) });
    expect(Extended.safeParse({ samplesPerTsk: 2 }).error?.issues[0].message).toBe(
      '`samplesPerTsk`: unknown key; did you mean `samplesPerTask`?',
    );
    const Picked = Train.pick({ lr: true });
    expect(Picked.safeParse({ epochs: 2 }).success).toBe(false);
    expect(Picked.safeParse({ lrr: 2 }).error?.issues[0].message).toBe(
      '`lrr`: unknown key; did you mean `lr`?',
    );
  });

  it('lists several unknown keys of one object in one issue', () => {
    const r = Train.safeParse({ epoch: 1, lr: 1, momentum: 0.9 });
    expect(r.error?.issues).toHaveLength(1);
    expect(r.error?.issues[0].message).toBe(
      '`epoch`: unknown key; did you mean `epochs`?; `momentum`: unknown key; known keys: `epochs`, `lr`',
    );
  });

  it('leaves the other zod messages alone, and valid input parses with defaults', () => {
    expect(Train.safeParse({ epochs: 'x' }).error?.issues[0].message).toMatch(/expected number/);
    expect(Outer.parse({})).toEqual({ train: { epochs: 30, lr: 1e-3 }, name: '' });
  });
});

describe('formatIssuePath', () => {
  it('prints array indices in brackets and keys with dots', () => {
    expect(formatIssuePath(['nodes', 2, 'config', 'epochs'])).toBe('nodes[2].config.epochs');
    expect(formatIssuePath([])).toBe('');
  });
});
