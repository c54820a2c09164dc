import { describe, expect, it } from 'vitest';
import {
  LATENTS_FORMAT,
  LatentProjection,
  latentsOfSummary,
} from '../../../src/shared/schemas/latents.ts';

const valid = {
  format: LATENTS_FORMAT,
  version: 1,
  method: 'pca',
  latentDim: 8,
  explained: [0.6, 0.25],
  tasks: ['t0', 't1', 't2'],
  zoo: { x: [0.1, -0.2, 0.3], y: [1, 0, -1], task: [0, 1, 1] },
  samples: { x: [0.5], y: [0.5], task: [2] },
  dropped: 0,
  thinned: 0,
};

describe('LatentProjection (stored 2-D latent map)', () => {
  it('accepts a well-formed record, with or without samples', () => {
    expect(LatentProjection.parse(valid)).toEqual(valid);
    const { samples: _s, ...zooOnly } = valid;
    expect(LatentProjection.parse(zooOnly).samples).toBeUndefined();
  });

  it('refuses coordinate arrays of different lengths', () => {
    const r = LatentProjection.safeParse({ ...valid, zoo: { x: [0, 1], y: [0], task: [0, 0] } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].message).toMatch(/same length/);
  });

  it('refuses a task index outside the task list, naming where', () => {
    const r = LatentProjection.safeParse({ ...valid, samples: { x: [0], y: [0], task: [3] } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].path).toEqual(['samples', 'task', 0]);
    expect(r.error?.issues[0].message).toMatch(/task index 3 is out of range \(3 tasks\)/);
  });

  it('refuses non-finite coordinates, a wrong format and shares outside [0, 1]', () => {
    expect(
      LatentProjection.safeParse({ ...valid, zoo: { ...valid.zoo, x: [0, null, 1] } }).success,
    ).toBe(false);
    expect(
      LatentProjection.safeParse({ ...valid, zoo: { ...valid.zoo, x: [0, Infinity, 1] } }).success,
    ).toBe(false);
    expect(LatentProjection.safeParse({ ...valid, format: 'other' }).success).toBe(false);
    expect(LatentProjection.safeParse({ ...valid, explained: [1.2, 0] }).success).toBe(false);
  });

  it('reads the projection out of a node summary, ignoring a missing or malformed one', () => {
    expect(latentsOfSummary({ metrics: {}, latents: valid })).toEqual(valid);
    expect(latentsOfSummary({ metrics: {} })).toBeUndefined();
    expect(latentsOfSummary({ latents: { ...valid, tasks: [] } })).toBeUndefined();
    expect(latentsOfSummary(null)).toBeUndefined();
  });
});
