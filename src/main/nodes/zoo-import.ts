/**
 * Runs zoo.import: loads and verifies a zoo folder (manifest + safetensors shards), or converts a
 * PyTorch zoo (Schürholt's layout, p-diff's checkpoints) in memory, every file it opens checked
 * against the path policy.
 */
import { zooImportSpec } from '../../shared/nodes/zoo-import.ts';
import { InputError } from '../engine/errors.ts';
import { loadAnyZoo } from '../engine/zoo/torch-zoo.ts';
import { checkFolderEntries } from '../paths/policy.ts';
import { nodeRunner } from './define.ts';

export const run = nodeRunner(zooImportSpec, async (ctx) => {
  if (!ctx.config.path) {
    throw new InputError('set the folder of the zoo to import', `${ctx.nodeId}: config.path`);
  }
  const dir = await ctx.paths.checkRead(ctx.config.path, 'zoo folder');
  await checkFolderEntries(ctx.paths, dir, 'file in the zoo folder');
  const zoo = await loadAnyZoo(dir, ctx.config.format, {
    activation: ctx.config.activation === 'auto' ? undefined : ctx.config.activation,
    checkRead: (file) => ctx.paths.checkRead(file, 'file in the zoo folder'),
  });
  const accs = zoo.manifest.members.map((m) => m.testAcc);
  return {
    outputs: { zoo: { type: 'zoo', zoo, dir } },
    summary: {
      dir,
      metrics: {
        members: zoo.manifest.members.length,
        parameters: zoo.manifest.layout.size,
        meanTestAcc: accs.length ? accs.reduce((a, b) => a + b, 0) / accs.length : NaN,
      },
    },
  };
});
