/** Weight VAE (D2NWG stage 2): training, the trained model, and its save format. */
export { trainVae } from './train.ts';
export type { TrainVaeArgs, TrainVaeResult, VaeEpochRecord } from './train.ts';
export { WeightVae, VAE_FORMAT_VERSION, computeNormStats } from './model.ts';
export type { VaeNormStats } from './model.ts';
