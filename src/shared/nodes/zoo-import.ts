/**
 * Zoo import: reuse a zoo trained elsewhere (or by an earlier run) instead of training one, since
 * the zoo is by far the most expensive stage of D2NWG.
 */
import { z } from 'zod';
import { strictObject } from '../issues.ts';
import { defineNode } from './spec.ts';

export const ZooImportConfig = strictObject({
  /** Folder holding the zoo manifest (`zoo.json`) and its safetensors shards. */
  path: z.string().default(''),
});
export type ZooImportConfig = z.infer<typeof ZooImportConfig>;

export const zooImportSpec = defineNode({
  type: 'zoo.import',
  version: 1,
  category: 'Zoo',
  title: 'Import zoo',
  help:
    'Loads a model zoo from a folder written by `d2nwg zoo export` (or any tool writing the same ' +
    'format): safetensors shards plus a JSON manifest giving, per checkpoint, the task, seed, ' +
    'epoch and accuracy, and the layer layout of the shared architecture. The manifest is ' +
    'validated; shapes that disagree with it are refused.',
  config: ZooImportConfig,
  inputs: [],
  outputs: [{ id: 'zoo', label: 'Zoo', type: 'zoo' }],
  cacheable: true,
});
