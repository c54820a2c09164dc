// Worker entry when running from TypeScript sources (CLI via tsx, tests): worker threads do not
// inherit the parent's module hooks, so register tsx here before loading the real worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
