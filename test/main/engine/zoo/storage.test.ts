import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ArchitectureSchema,
  ZOO_FORMAT,
  type ZooManifest,
} from '../../../../src/shared/schemas/zoo.ts';
import {
  architectureToJson,
  layoutOf,
  layoutToJson,
  resolveArchitecture,
} from '../../../../src/main/engine/nn/architecture.ts';
import { initParams } from '../../../../src/main/engine/nn/params.ts';
import {
  importZoo,
  loadZoo,
  memberVector,
  saveZoo,
  shardName,
  zooInfo,
  type Zoo,
} from '../../../../src/main/engine/zoo/storage.ts';
import { InputError } from '../../../../src/main/engine/errors.ts';
import {
  readSafetensors,
  writeSafetensors,
} from '../../../../src/main/engine/formats/safetensors.ts';
import { Rng } from '../../../../src/main/engine/rng.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-zoo-storage-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A small synthetic zoo (no training): n members of an MLP 4→3→2, split over shards of `perShard`. */
function syntheticZoo(n: number, perShard = 256): Zoo {
  const arch = resolveArchitecture(ArchitectureSchema.parse({ kind: 'mlp', hidden: [3] }), [4], 2);
  const layout = layoutOf(arch);
  const vectors = new Float32Array(n * layout.size);
  for (let i = 0; i < n; i++) vectors.set(initParams(layout, new Rng(i)), i * layout.size);
  const manifest: ZooManifest = {
    format: ZOO_FORMAT,
    created: '2026-11-26T00:00:00.000Z',
    arch: architectureToJson(arch),
    layout: layoutToJson(layout),
    dataset: { source: null, id: 'synthetic', classNames: ['a', 'b', 'c'] },
    features: null,
    tasks: {
      config: null,
      heldOut: [2],
      list: [
        { id: 't0', classes: [0, 1], split: 'seen', trainCount: 10, testCount: 5 },
        { id: 't1', classes: [1, 2], split: 'unseen-class', trainCount: 10, testCount: 5 },
      ],
    },
    members: Array.from({ length: n }, (_, i) => ({
      index: i,
      taskId: 't0',
      classes: [0, 1],
      seed: i % 2,
      epoch: 1 + (i % 3),
      trainAcc: 0.5 + i / (4 * n),
      testAcc: 0.4 + i / (4 * n),
      shard: shardName(Math.floor(i / perShard)),
      tensorName: `m${i}`,
    })),
    config: null,
  };
  return { manifest, vectors };
}

describe('saveZoo / loadZoo', () => {
  it('round-trips members across several shards, bit for bit', async () => {
    const zoo = syntheticZoo(7, 3);
    const dir = path.join(tmp, 'rt');
    await saveZoo(dir, zoo);
    expect(fs.readdirSync(dir).sort()).toEqual([
      'manifest.json',
      'shard-00000.safetensors',
      'shard-00001.safetensors',
      'shard-00002.safetensors',
    ]);
    const back = await loadZoo(dir);
    expect(back.vectors).toEqual(zoo.vectors);
    expect(back.manifest).toEqual(zoo.manifest);
    expect(memberVector(back, 4)).toEqual(zoo.vectors.slice(4 * 23, 5 * 23));
    const { tensors } = await readSafetensors(path.join(dir, 'shard-00001.safetensors'));
    expect(Object.keys(tensors).sort()).toEqual(['m3', 'm4', 'm5']);
    expect(tensors.m3.shape).toEqual([23]);
    // No temp folders are left next to it.
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('replaces an existing zoo but refuses to overwrite a folder that is not a zoo', async () => {
    const dir = path.join(tmp, 'replace');
    await saveZoo(dir, syntheticZoo(5, 2));
    await saveZoo(dir, syntheticZoo(2));
    expect((await loadZoo(dir)).manifest.members.length).toBe(2);
    expect(fs.existsSync(path.join(dir, 'shard-00001.safetensors'))).toBe(false);
    const other = path.join(tmp, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'notes.txt'), 'mine');
    await expect(saveZoo(other, syntheticZoo(2))).rejects.toThrow(/not a zoo/);
    expect(fs.readFileSync(path.join(other, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('summarises a zoo', async () => {
    const dir = path.join(tmp, 'info');
    await saveZoo(dir, syntheticZoo(4));
    const info = await zooInfo(dir);
    expect(info).toMatchObject({
      members: 4,
      runs: 2,
      paramCount: 23,
      shards: 1,
      epochs: [1, 2, 3],
      tasks: { seen: 1, unseenCombo: 0, unseenClass: 1 },
    });
    expect(info.arch).toContain('4→3→2');
    expect(info.testAcc.min).toBeCloseTo(0.4);
    expect(info.testAcc.max).toBeCloseTo(0.4 + 3 / 16);
  });

  it('imports a zoo from elsewhere, re-encoding half-precision shards as F32', async () => {
    const src = path.join(tmp, 'import-src');
    const zoo = syntheticZoo(3);
    await saveZoo(src, zoo);
    // Rewrite the shard as F64, as another tool might.
    const shard = path.join(src, 'shard-00000.safetensors');
    const { tensors } = await readSafetensors(shard);
    await writeSafetensors(
      shard,
      Object.fromEntries(
        Object.entries(tensors).map(([k, t]) => [
          k,
          {
            dtype: 'F64' as const,
            shape: t.shape,
            data: Float64Array.from(t.data as Float32Array),
          },
        ]),
      ),
    );
    const out = path.join(tmp, 'import-out');
    await importZoo(src, out);
    const back = await loadZoo(out);
    expect(back.vectors).toEqual(zoo.vectors);
    const st = await readSafetensors(path.join(out, 'shard-00000.safetensors'));
    expect(st.tensors.m0.dtype).toBe('F32');
    await expect(importZoo(out, out)).rejects.toBeInstanceOf(InputError);
  });
});

describe('loadZoo refuses inconsistent zoos', () => {
  async function saved(name: string, n = 3): Promise<string> {
    const dir = path.join(tmp, name);
    await saveZoo(dir, syntheticZoo(n));
    return dir;
  }
  async function rewriteShard(
    dir: string,
    edit: (t: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>) => void,
  ): Promise<string> {
    const file = path.join(dir, 'shard-00000.safetensors');
    const { tensors } = await readSafetensors(file);
    const copy = Object.fromEntries(
      Object.entries(tensors).map(([k, t]) => [
        k,
        { dtype: 'F32' as const, shape: t.shape, data: t.data as Float32Array },
      ]),
    );
    edit(copy);
    await writeSafetensors(file, copy);
    return file;
  }

  it('names the shard and the member when a member is missing', async () => {
    const dir = await saved('missing');
    const file = await rewriteShard(dir, (t) => delete t.m1);
    const err = await loadZoo(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(`${file}: member 1 (tensor 'm1') is missing`);
  });

  it('names the shard and the member on a wrong length', async () => {
    const dir = await saved('length');
    const file = await rewriteShard(dir, (t) => {
      t.m2 = { dtype: 'F32', shape: [5], data: new Float32Array(5) };
    });
    await expect(loadZoo(dir)).rejects.toThrow(
      `${file}: member 2 (tensor 'm2') has 5 values, the architecture needs 23`,
    );
  });

  it('names the shard and the member on NaN or Inf', async () => {
    const dir = await saved('nan');
    const file = await rewriteShard(dir, (t) => {
      t.m0.data[7] = NaN;
    });
    await expect(loadZoo(dir)).rejects.toThrow(
      `${file}: member 0 (tensor 'm0') has a non-finite value NaN at index 7`,
    );
    await rewriteShard(dir, (t) => {
      t.m0.data[7] = 0;
      t.m1.data[0] = Infinity;
    });
    await expect(loadZoo(dir)).rejects.toThrow(/member 1 .* non-finite value Infinity/);
  });

  it('names the manifest and lists zod issues with their paths', async () => {
    const dir = await saved('badmanifest');
    const file = path.join(dir, 'manifest.json');
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    const members = m.members as Record<string, unknown>[];
    members[1].testAcc = 1.5;
    members[2].shard = '../evil.bin';
    fs.writeFileSync(file, JSON.stringify(m));
    const err = await loadZoo(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    const msg = (err as Error).message;
    expect(msg.startsWith(`${file}: invalid zoo manifest:`)).toBe(true);
    expect(msg).toContain('members[1].testAcc');
    expect(msg).toContain('members[2].shard');
  });

  it('refuses a missing shard, a missing manifest, a wrong format and a layout mismatch', async () => {
    const dir = await saved('misc');
    fs.rmSync(path.join(dir, 'shard-00000.safetensors'));
    await expect(loadZoo(dir)).rejects.toThrow(/shard-00000\.safetensors: cannot read/);
    await expect(loadZoo(path.join(tmp, 'nope'))).rejects.toThrow(/manifest\.json: not found/);

    const dir2 = await saved('format');
    const file = path.join(dir2, 'manifest.json');
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(file, JSON.stringify({ ...m, format: 'other/2' }));
    await expect(loadZoo(dir2)).rejects.toThrow(/format is "other\/2"/);
    const layout = m.layout as { size: number };
    fs.writeFileSync(file, JSON.stringify({ ...m, layout: { ...layout, size: 24 } }));
    await expect(loadZoo(dir2)).rejects.toThrow(/layout does not match the architecture/);
    fs.writeFileSync(file, '{ not json');
    await expect(loadZoo(dir2)).rejects.toThrow(/manifest\.json: not valid JSON/);
  });
});
