/** Dataset encoder node (D2NWG stage 3): turns a support set into the diffusion condition. */
import { EncoderConfigSchema } from '../schemas/encoder.ts';
import { defineNode } from './spec.ts';

export const modelEncoderSpec = defineNode({
  type: 'model.encoder',
  version: 1,
  category: 'Model',
  title: 'Dataset encoder',
  help:
    'Trains the dataset encoder (paper §3.3, Eq. 2): a support set of n feature vectors per ' +
    'class goes through Set Transformer blocks to one embedding, trained CLIP-style to match the ' +
    'frozen VAE latents of the weights trained on that dataset. Kind "ordered" keeps the class ' +
    'order, which a generated classifier head needs to map output i to class i.',
  config: EncoderConfigSchema,
  inputs: [
    { id: 'zoo', label: 'Zoo', type: 'zoo', inheritFrom: ['vae'] },
    { id: 'vae', label: 'VAE', type: 'vae' },
    { id: 'features', label: 'Features', type: 'features', inheritFrom: ['zoo'] },
    { id: 'tasks', label: 'Tasks', type: 'tasks', inheritFrom: ['features'] },
  ],
  outputs: [{ id: 'encoder', label: 'Encoder', type: 'encoder' }],
  cacheable: true,
});
