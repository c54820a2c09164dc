import { CancelledError, DeviceLimitError, InputError, NumericError } from '../engine/errors.ts';
import { commands } from './commands/index.ts';

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4);
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'd2nwg: Diffusion-based Neural Network Weights Generation, headless.',
    '',
    'Usage: d2nwg <command> [options]   (d2nwg <command> --help for details)',
    '',
    'Commands:',
    ...lines,
    '',
    'Environment: D2NWG_BACKEND=wasm|cpu|tensorflow|webgpu overrides the tensor backend;',
    '             D2NWG_QUEUE=redis://HOST:PORT trains zoo batches on `d2nwg worker` processes.',
  ].join('\n');
}

/** Entry point shared by bin/d2nwg.mjs and tests. Returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    console.error(`d2nwg: unknown command '${name}'.\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.usage);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof InputError) {
      console.error(`error: ${err.message}`);
      return 2;
    }
    if (err instanceof CancelledError) {
      console.error('cancelled');
      return 1;
    }
    if (err instanceof NumericError || err instanceof DeviceLimitError) {
      // Messages that name the stage/step or the sizes; a stack trace adds nothing for a user.
      console.error(`error: ${err.message}`);
      return 1;
    }
    console.error(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}
