import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadExtractor } from '../../../src/main/engine/features/extractor.ts';
import { saveZoo } from '../../../src/main/engine/zoo/storage.ts';
import { confinedPolicy } from '../../../src/main/paths/policy.ts';
import { run } from '../../../src/main/nodes/zoo-import.ts';
import { expectInputError, metric, nodeContext, output, TinyChain } from '../../helpers/nodes.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'd2nwg-node-zoo-import-'));
const chain = new TinyChain();
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('zoo.import', () => {
  it('loads a saved zoo folder, relative to the data folder, with every vector and member intact', async () => {
    const built = (await chain.zoo()).zoo;
    // The Zoo node passes no extractor on; the folder keeps the Features node's fitted one.
    const extractor = loadExtractor((await chain.features()).state);
    await saveZoo(path.join(tmp, 'zoo'), { ...built, extractor });
    const { ctx } = nodeContext({ config: { path: 'zoo' }, dataDir: tmp });
    const res = await run(ctx, {});
    const v = output(res, 'zoo', 'zoo');
    expect(v.dir).toBe(path.join(tmp, 'zoo'));
    expect(v.zoo.vectors).toEqual(built.vectors);
    expect(v.zoo.manifest.members.map((m) => [m.taskId, m.seed, m.epoch, m.testAcc])).toEqual(
      built.manifest.members.map((m) => [m.taskId, m.seed, m.epoch, m.testAcc]),
    );
    expect(v.zoo.manifest.layout).toEqual(built.manifest.layout);
    expect(v.zoo.extractor?.state()).toEqual(extractor.state());
    expect(metric(res, 'members')).toBe(12);
    expect(metric(res, 'parameters')).toBe(built.manifest.layout.size);
    expect(res.summary?.dir).toBe(path.join(tmp, 'zoo'));
  });

  it('refuses an unset folder (naming config.path) and a folder outside what the policy allows', async () => {
    const { ctx } = nodeContext({ nodeId: 'imp', config: {} });
    await expectInputError(run(ctx, {}), /^imp: config\.path: set the folder of the zoo to import/);
    const inside = path.join(tmp, 'inside');
    fs.mkdirSync(inside, { recursive: true });
    const { ctx: confined } = nodeContext({
      config: { path: path.join(tmp, 'zoo') },
      dataDir: inside,
      paths: confinedPolicy({ dataDir: inside }),
    });
    await expect(run(confined, {})).rejects.toThrow(
      /zoo folder `.*zoo` is outside the allowed folders \(data dir .*inside\)/,
    );
  });
});
