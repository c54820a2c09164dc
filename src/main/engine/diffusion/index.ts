/** Conditional latent diffusion (D2NWG stage 4): schedule, samplers, training, the model. */
export { makeSchedule } from './schedule.ts';
export type { Schedule, ScheduleKind, ScheduleOptions } from './schedule.ts';
export { ddimStep, ddimTimesteps, ddpmStep, runSampler } from './sampler.ts';
export type { RunSamplerArgs, SamplerStepInfo, StepResult } from './sampler.ts';
export { trainDiffusion } from './train.ts';
export type { DiffusionHistoryRecord, TrainDiffusionArgs, TrainDiffusionResult } from './train.ts';
export { DIFFUSION_FORMAT_VERSION, LatentDiffusion, scheduleFor } from './model.ts';
export type { SampleArgs } from './model.ts';
