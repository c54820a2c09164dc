/**
 * Runs zoo.build through the engine's zoo builder. The builder loads its data, fits its features
 * and draws its tasks from configs; the node hands it the configs of its upstream nodes and the
 * run seed, then checks that the builder's features and tasks are exactly the upstream ones, so
 * the zoo and every later stage see the same inputs.
 */
import { zooBuildSpec } from '../../shared/nodes/zoo-build.ts';
import { buildZoo } from '../engine/zoo/build.ts';
import { InputError } from '../engine/errors.ts';
import { augmentByOutputPermutations } from '../engine/zoo/augment.ts';
import { zooLayout } from '../engine/zoo/storage.ts';
import { canonicalJson } from '../graph/cache.ts';
import { controlOf, nodeRunner } from './define.ts';

export const run = nodeRunner(zooBuildSpec, async (ctx, inputs) => {
  const features = inputs.features;
  const tasksV = inputs.tasks;
  const wiring = 'connect Features and Zoo to the same Dataset and Tasks nodes';
  // Cheap checks before training; the exact ones follow the build.
  if (tasksV.tasks.unseenDataset !== undefined) {
    throw new InputError(
      `these Tasks come from an Unseen-dataset tasks node, which has no seen tasks to train a zoo on; ${wiring}`,
      `${ctx.nodeId}: tasks`,
    );
  }
  if (
    features.state.kind === 'pca' &&
    features.state.fitSamples !== tasksV.tasks.trainPool.length
  ) {
    throw new InputError(
      `the Features were fitted on ${features.state.fitSamples} samples but these Tasks have a train pool of ${tasksV.tasks.trainPool.length}; ${wiring}`,
      `${ctx.nodeId}: features`,
    );
  }
  const built = await buildZoo(
    {
      dataset: tasksV.datasetSource,
      features: features.config,
      tasks: tasksV.tasks.config,
      arch: ctx.config.architecture,
      train: ctx.config.train,
      workers: ctx.config.workers,
      seed: features.seed,
    },
    controlOf(ctx),
  );
  if (canonicalJson(built.extractor.state()) !== canonicalJson(features.state)) {
    throw new InputError(
      `the zoo builder fitted different features than the Features node; ${wiring}`,
      `${ctx.nodeId}: features`,
    );
  }
  const ids = tasksV.tasks.seen.map((t) => t.id);
  const zooIds = built.manifest.tasks.list.filter((t) => t.split === 'seen').map((t) => t.id);
  if (canonicalJson(ids) !== canonicalJson(zooIds)) {
    throw new InputError(
      `the zoo builder drew different tasks than the Tasks node; ${wiring}`,
      `${ctx.nodeId}: tasks`,
    );
  }
  const trained = { manifest: built.manifest, vectors: built.vectors };
  const perTask = ctx.config.augment.outputPermutations;
  const zoo =
    perTask > 0
      ? augmentByOutputPermutations(
          trained,
          zooLayout(trained.manifest),
          tasksV.tasks.seen,
          perTask,
          ctx.rng.fork('augment'),
        ).zoo
      : trained;
  const accs = zoo.manifest.members.map((m) => m.testAcc);
  return {
    outputs: {
      zoo: { type: 'zoo', zoo, ...(built.source ? { pretrained: built.source } : {}) },
    },
    summary: {
      architecture: zoo.manifest.layout.size,
      metrics: {
        members: accs.length,
        ...(perTask > 0 ? { trainedMembers: trained.manifest.members.length } : {}),
        parameters: zoo.manifest.layout.size,
        meanTestAcc: accs.reduce((a, b) => a + b, 0) / Math.max(1, accs.length),
      },
    },
  };
});
