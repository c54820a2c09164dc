import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ZooConfigInput } from '../../../../src/shared/schemas/zoo.ts';
import {
  buildZoo,
  memberInit,
  parseZooConfig,
  zooInits,
  type BuiltZoo,
} from '../../../../src/main/engine/zoo/build.ts';
import { trainSourceModel } from '../../../../src/main/engine/eval/pretrained.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';
import { loadZoo, saveZoo, zooLayout } from '../../../../src/main/engine/zoo/storage.ts';
import { materializeTask } from '../../../../src/main/engine/data/tasks.ts';
import { zooTaskData } from '../../../../src/main/engine/zoo/tasks.ts';
import { accuracy } from '../../../../src/main/engine/nn/train.ts';
import { CancelledError, InputError } from '../../../../src/main/engine/errors.ts';
import type { Progress } from '../../../../src/main/engine/progress.ts';
import { expectNoLeakedTensors } from '../../../helpers/tf.ts';

const K = 3;
const config: ZooConfigInput = {
  dataset: { kind: 'fashion-mnist' },
  features: { kind: 'pca', components: 16 },
  tasks: { k: K, nTrain: 40, nTest: 40, numSeen: 2, numUnseenCombo: 1, numUnseenClass: 1 },
  arch: { kind: 'mlp', hidden: [16] },
  train: { epochs: 6, keepLast: 2, seeds: 1, batchSize: 16, lr: 3e-3 },
  workers: 2,
  seed: 11,
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-zoo-build-'));
let zoo: BuiltZoo;
const progress: Progress[] = [];

beforeAll(async () => {
  zoo = await expectNoLeakedTensors(() =>
    buildZoo(config, { onProgress: (p) => progress.push(p) }),
  );
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('buildZoo', () => {
  it('trains every seen task, keeping the last k checkpoints, all well above chance', () => {
    const m = zoo.manifest;
    expect(m.members.length).toBe(2 * 1 * 2);
    expect(m.members.map((x) => x.epoch)).toEqual([5, 6, 5, 6]);
    expect(m.tasks.list.filter((t) => t.split === 'seen').map((t) => t.id)).toEqual([
      m.members[0].taskId,
      m.members[2].taskId,
    ]);
    expect(m.tasks.list.length).toBe(4);
    for (const member of m.members) {
      expect(member.testAcc).toBeGreaterThan(1 / K + 0.3);
      expect(member.classes.length).toBe(K);
    }
    expect(m.arch).toMatchObject({ kind: 'mlp', inputDim: 16, hidden: [16], outputs: K });
    expect(m.layout.size).toBe(16 * 16 + 16 + 16 * K + K);
    expect(zoo.vectors.length).toBe(4 * m.layout.size);
    expect(m.features).toEqual({ kind: 'pca', dim: 16, file: 'features.safetensors' });
    expect(m.dataset.id).toBe('embedded:fashion-mnist');
    expect(m.config?.seed).toBe(11);
  });

  it('stores weights that reproduce the recorded test accuracy on the regenerated tasks', async () => {
    const { inputs, tasks } = await zooTaskData(zoo);
    expect(inputs.sampleShape).toEqual([16]);
    const layout = zooLayout(zoo.manifest);
    const member = zoo.manifest.members[3];
    const task = tasks.seen.find((t) => t.id === member.taskId);
    if (!task) throw new Error('task not found');
    const td = materializeTask(inputs, task);
    const w = zoo.vectors.slice(3 * layout.size, 4 * layout.size);
    const acc = await expectNoLeakedTensors(() => accuracy(layout, w, td.xTest, td.yTest));
    expect(acc).toBeCloseTo(member.testAcc, 6);
    // A manifest whose tasks no longer match the data is refused.
    const tampered = {
      ...zoo,
      manifest: {
        ...zoo.manifest,
        tasks: {
          ...zoo.manifest.tasks,
          list: zoo.manifest.tasks.list.map((t, i) => (i === 0 ? { ...t, trainCount: 1 } : t)),
        },
      },
    };
    await expect(zooTaskData(tampered)).rejects.toThrow(/does not come back the same/);
  });

  it('reports progress in members, ending at the total', () => {
    const members = progress.filter((p) => p.unit === 'member');
    expect(members.length).toBeGreaterThan(2);
    const last = members[members.length - 1];
    expect(last.value).toBe(4);
    expect(last.max).toBe(4);
    expect(last.metrics?.testAcc).toBeGreaterThan(0.5);
    for (let i = 1; i < members.length; i++) {
      expect(members[i].value).toBeGreaterThanOrEqual(members[i - 1].value);
    }
  });

  it('gives the same init to every task with the same seed index', () => {
    const layout = zooLayout(zoo.manifest);
    expect(memberInit(layout, 11, 0)).toEqual(memberInit(layout, 11, 0));
    expect(memberInit(layout, 11, 0)).not.toEqual(memberInit(layout, 11, 1));
  });

  it('counts member progress as checkpoints are kept, before any batch ends, never going back', () => {
    const members = progress.filter((p) => p.unit === 'member');
    const values = members.map((p) => p.value);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]);
    expect(values[values.length - 1]).toBe(4);
    // Epoch 5 of 6 keeps the first of each run's 2 checkpoints: a line during training shows it.
    const midway = members.find((p) => /epoch 5\/6/.test(p.label ?? ''));
    expect(midway?.value).toBeGreaterThan(0);
    expect(midway?.value).toBeLessThan(4);
  });

  it('does not depend on the worker count', async () => {
    const inProcess = await buildZoo({ ...config, workers: 0 });
    expect(inProcess.vectors).toEqual(zoo.vectors);
    expect(inProcess.manifest.members).toEqual(zoo.manifest.members);
  });

  it('saves and reloads equal, extractor included', async () => {
    const dir = path.join(tmp, 'zoo');
    await saveZoo(dir, zoo);
    expect(fs.readdirSync(dir).sort()).toEqual([
      'features.safetensors',
      'manifest.json',
      'shard-00000.safetensors',
    ]);
    const back = await loadZoo(dir);
    expect(back.vectors).toEqual(zoo.vectors);
    expect(back.manifest).toEqual(JSON.parse(JSON.stringify(zoo.manifest)));
    const x = new Float32Array(2 * 784).fill(0.5);
    expect(await back.extractor?.transform(x, 2)).toEqual(await zoo.extractor.transform(x, 2));
  });

  it('cancels a running build', async () => {
    const ac = new AbortController();
    const p = buildZoo(
      // 'pixels' features skip the PCA fit: this test is about stopping the workers.
      { ...config, features: { kind: 'pixels' }, train: { ...config.train, epochs: 200 } },
      {
        signal: ac.signal,
        onProgress: (pr) => {
          if (pr.unit === 'member' && pr.label?.includes('epoch')) ac.abort();
        },
      },
    );
    await expect(p).rejects.toBeInstanceOf(CancelledError);
  });

  it('lists every config problem with its path', () => {
    const err = (() => {
      try {
        parseZooConfig({ train: { epochs: 0 }, arch: { kind: 'mlp', hidden: ['x'] }, workers: -1 });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(InputError);
    const msg = (err as Error).message;
    expect(msg).toContain('train.epochs');
    expect(msg).toContain('arch.hidden[0]');
    expect(msg).toContain('workers');
  });

  it('starts every run from the pretrained body with pretrainEpochs, each seed keeping its head', async () => {
    const { inputs, tasks } = await zooTaskData(zoo);
    const layout = zooLayout(zoo.manifest);
    const cfg = parseZooConfig({
      ...config,
      train: { ...config.train, seeds: 2, pretrainEpochs: 2 },
    });
    const { inits, source: carried } = await expectNoLeakedTensors(() =>
      zooInits(cfg, layout, inputs, tasks),
    );
    const source = await trainSourceModel({
      feat: inputs,
      trainPool: tasks.trainPool,
      heldOut: tasks.heldOut,
      architecture: cfg.arch,
      train: { epochs: 2, batchSize: 16, lr: 3e-3 },
      rng: new Rng(11).fork('pretrain'),
    });
    // The source model tells every known class apart: its head is wider than a task's.
    expect(source.classes).toBe(10 - tasks.heldOut.length);
    const body = 16 * 16 + 16;
    expect(inits.length).toBe(2);
    for (let s = 0; s < 2; s++) {
      expect(inits[s].subarray(0, body)).toEqual(source.params.subarray(0, body));
      expect(inits[s].subarray(body)).toEqual(memberInit(layout, 11, s).subarray(body));
    }
    expect(inits[0].subarray(body)).not.toEqual(inits[1].subarray(body));
    // The model the inits came from travels with them (the Zoo node hands it to Evaluate).
    expect(carried?.params).toEqual(source.params);
    // Without pretraining the inits are memberInit's.
    const plain = await zooInits(parseZooConfig(config), layout, inputs, tasks);
    expect(plain).toEqual({ inits: [memberInit(layout, 11, 0)] });

    const built = await buildZoo({
      ...config,
      workers: 0,
      train: { ...config.train, pretrainEpochs: 2 },
    });
    expect(built.manifest.timings?.pretrain).toBeGreaterThan(0);
    expect(built.source?.params).toEqual(source.params);
    expect(zoo.source).toBeUndefined();
    expect(built.vectors).not.toEqual(zoo.vectors);
    for (const m of built.manifest.members) expect(m.testAcc).toBeGreaterThan(1 / K + 0.3);
    expect(() => parseZooConfig({ train: { pretrainEpochs: -1 } })).toThrow(
      /train\.pretrainEpochs/,
    );
  });

  it('refuses a CNN on PCA features', async () => {
    await expect(buildZoo({ ...config, arch: { kind: 'cnn' }, workers: 0 })).rejects.toThrow(
      /cnn' needs image inputs/,
    );
  });
});
