import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../../src/main/engine/errors.ts';
import {
  readConfigFile,
  resolveQualityConfig,
} from '../../../../src/main/engine/quality/config.ts';
import { formatTable, ResultCollector } from '../../../../src/main/engine/quality/report.ts';

describe('quality config', () => {
  it('resolves presets with the master seed propagated to the task draw', () => {
    const smoke = resolveQualityConfig('smoke');
    expect(smoke.preset).toBe('smoke');
    expect(smoke.tasks.seed).toBe(smoke.seed);
    const std = resolveQualityConfig('standard', { seed: 7 });
    expect(std.tasks.numSeen).toBeGreaterThanOrEqual(100);
    expect(std.tasks.seed).toBe(7);
    expect(std.eval.finetuneEpochs).toEqual([0, 1, 5]);
    // An explicit task seed wins; other preset fields survive a partial override.
    const o = resolveQualityConfig('smoke', { tasks: { seed: 3, heldOutClasses: [0, 1] } });
    expect(o.tasks.seed).toBe(3);
    expect(o.tasks.heldOutClasses).toEqual([0, 1]);
    expect(o.tasks.numSeen).toBe(smoke.tasks.numSeen);
  });

  it("'large' is 'standard' with 20× the seen tasks at the same optimiser steps", () => {
    const std = resolveQualityConfig('standard');
    const large = resolveQualityConfig('large');
    expect(large.tasks.numSeen).toBe(4000);
    const members = (c: typeof std) => c.tasks.numSeen * c.zoo.train.seeds * c.zoo.train.keepLast;
    const scale = members(large) / members(std);
    expect(scale).toBe(20);
    // Steps = epochs × members / batch size: within one epoch's rounding of the standard's.
    const steps = (c: typeof std, epochs: number, batch: number) => (epochs * members(c)) / batch;
    for (const [l, s] of [
      [
        steps(large, large.vae.epochs, large.vae.batchSize),
        steps(std, std.vae.epochs, std.vae.batchSize),
      ],
      [
        steps(large, large.encoder.epochs, large.encoder.batchSize),
        steps(std, std.encoder.epochs, std.encoder.batchSize),
      ],
    ]) {
      expect(Math.abs(l - s) / s).toBeLessThan(0.1);
    }
    expect(large.diffusion.steps).toBe(std.diffusion.steps);
    // Everything else as in standard.
    expect(large.zoo).toEqual(std.zoo);
    expect(large.eval).toEqual(std.eval);
    expect({ ...large.tasks, numSeen: 0 }).toEqual({ ...std.tasks, numSeen: 0 });
  });

  it('an override of another kind replaces the preset object instead of merging into it', () => {
    const cfg = resolveQualityConfig('smoke', {
      features: { kind: 'pixels' },
      zoo: { architecture: { kind: 'cnn', channels: [4, 4] } },
    });
    expect(cfg.features).toEqual({ kind: 'pixels', standardise: false });
    expect(cfg.zoo.architecture).toEqual({
      kind: 'cnn',
      channels: [4, 4],
      kernelSize: 3,
      activation: 'leaky_relu',
    });
    // The same kind still merges key by key.
    expect(
      resolveQualityConfig('smoke', { features: { kind: 'pca', components: 8 } }).features,
    ).toEqual({ kind: 'pca', components: 8, whiten: true });
  });

  it('the CNN presets train CNNs on raw pixels; the generator can see every training sample', () => {
    for (const preset of ['standard-cnn', 'large-cnn'] as const) {
      const cfg = resolveQualityConfig(preset);
      expect(cfg.features.kind, preset).toBe('pixels');
      expect(cfg.zoo.architecture.kind, preset).toBe('cnn');
    }
    const std = resolveQualityConfig('standard-cnn');
    const large = resolveQualityConfig('large-cnn');
    expect(large.tasks.numSeen).toBe(20 * std.tasks.numSeen);
    // encoder.perClass goes up to tasks.nTrain (past the 256 it was once capped at).
    const all = resolveQualityConfig('standard-cnn', {
      tasks: { nTrain: 300 },
      encoder: { perClass: 300 },
    });
    expect(all.encoder.perClass).toBe(all.tasks.nTrain);
    expect(() =>
      resolveQualityConfig('standard-cnn', { tasks: { nTrain: 300 }, encoder: { perClass: 301 } }),
    ).toThrow(/encoder\.perClass.*301 samples per class cannot be drawn from 300/);
  });

  it('refuses a zoo with a single task, impossible values and unknown types, naming the field', () => {
    expect(() => resolveQualityConfig('smoke', { tasks: { numSeen: 1 } })).toThrow(
      /tasks\.numSeen.*at least 2 seen tasks/,
    );
    expect(() => resolveQualityConfig('smoke', { encoder: { perClass: 500 } })).toThrow(
      /encoder\.perClass/,
    );
    expect(() =>
      resolveQualityConfig('smoke', { eval: { samplesPerTask: 2, soupTopK: 3 } }),
    ).toThrow(/eval\.soupTopK/);
    expect(() => resolveQualityConfig('smoke', { encoder: { dModel: 30, heads: 4 } })).toThrow(
      InputError,
    );
    expect(() => resolveQualityConfig('smoke', { vae: { latentDim: -3 } })).toThrow(
      /vae\.latentDim/,
    );
    expect(() => resolveQualityConfig('smoke', [])).toThrow(/JSON object/);
  });

  it('refuses a misspelt key at any level, naming the path and the key meant', () => {
    const message = (override: unknown): string => {
      try {
        resolveQualityConfig('smoke', override, 'my.json');
      } catch (err) {
        expect(err).toBeInstanceOf(InputError);
        return (err as Error).message;
      }
      throw new Error('expected the config to be refused');
    };
    expect(message({ eval: { soupTopk: 3 } })).toBe(
      'my.json: eval: `soupTopk`: unknown key; did you mean `soupTopK`?',
    );
    expect(message({ zoo: { train: { epoch: 4 } } })).toBe(
      'my.json: zoo.train: `epoch`: unknown key; did you mean `epochs`?',
    );
    expect(message({ seeed: 2 })).toBe(
      'my.json: (root): `seeed`: unknown key; did you mean `seed`?',
    );
    expect(message({ diffusion: { denoiser: { widht: 64 } } })).toBe(
      'my.json: diffusion.denoiser: `widht`: unknown key; did you mean `width`?',
    );
  });

  it('reads a JSON override file and names it when it is broken', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qcfg-'));
    const good = path.join(dir, 'good.json');
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(good, JSON.stringify({ dataset: { kind: 'csv', path: 'x.csv' }, seed: 4 }));
    fs.writeFileSync(bad, '{ nope');
    const cfg = resolveQualityConfig('smoke', await readConfigFile(good), good);
    expect(cfg.dataset).toMatchObject({ kind: 'csv', path: 'x.csv' });
    await expect(readConfigFile(bad)).rejects.toThrow(/bad\.json: invalid JSON/);
    await expect(readConfigFile(path.join(dir, 'missing.json'))).rejects.toThrow(InputError);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('quality report table', () => {
  it('aggregates per-task values and prints one row per method, one column per split/epoch', () => {
    const c = new ResultCollector();
    c.add('seen', 'zoo', 0, 0.8, 8);
    c.add('seen', 'zoo', 0, 0.6, 8);
    c.add('seen', 'd2nwg_mean', 0, 0.5, 10);
    c.add('unseen-class', 'd2nwg_mean', 1, 0.25, 3);
    const rows = c.rows();
    const zoo = rows.find((r) => r.method === 'zoo');
    expect(zoo).toMatchObject({ split: 'seen', epoch: 0, tasks: 2, samples_per_task: 8 });
    expect(zoo?.accuracy_mean).toBeCloseTo(0.7);
    expect(zoo?.accuracy_std).toBeCloseTo(0.1);
    const table = formatTable(rows).split('\n');
    expect(table[0]).toMatch(/method\s+seen@0\s+unseen-class@1/);
    expect(table).toHaveLength(4);
    expect(table[2]).toMatch(/^zoo\s+70\.0±10\.0\s+—/);
    expect(table[3]).toMatch(/^d2nwg_mean\s+50\.0±0\.0\s+25\.0±0\.0/);
  });
});
