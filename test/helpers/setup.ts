// Every test file starts on the same backend as the CLI would pick, forced to wasm unless
// D2NWG_BACKEND says otherwise, so tests measure what users run.
import { beforeAll } from 'vitest';
import { initBackend } from '../../src/main/engine/backend.ts';

beforeAll(async () => {
  await initBackend({ backend: process.env.D2NWG_BACKEND ?? 'wasm', quiet: true });
});
