#!/usr/bin/env node
// The d2nwg CLI. Runs the TypeScript sources through tsx so that `npx d2nwg` works right after
// `npm ci`, with no build step. Worker threads re-register tsx themselves (see engine/workers).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
