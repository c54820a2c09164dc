// Worker entry when running from TypeScript sources (CLI via tsx, tests): worker threads do not
// inherit the parent's module hooks, so register tsx here before loading the real worker. The
// priority is lowered first, so that tsx's hooks thread and its esbuild service inherit it.
import { register } from 'tsx/esm/api';
import { lowerThreadPriority } from './thread-priority.mjs';

lowerThreadPriority();
register();
await import('./worker.ts');
