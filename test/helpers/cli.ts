/** Helpers for tests of the CLI's text output. */
import { executePipeline, type TextSink } from '../../src/main/cli/commands/run.ts';

/** A TextSink that keeps everything written to it. */
export function textSink(isTTY = false): TextSink & { text: () => string } {
  const parts: string[] = [];
  return { isTTY, write: (s) => void parts.push(s), text: () => parts.join('') };
}

/** Run a pipeline file with no store, as `d2nwg run` would; its exit code and printed output. */
export async function printPipeline(
  file: string,
  dataDir: string,
  seed = 0,
): Promise<{ code: number; text: string }> {
  const out = textSink();
  const outcome = await executePipeline({
    file,
    dbPath: null,
    dataDir,
    seed,
    err: textSink(),
    out,
  });
  return { code: outcome.code, text: out.text() };
}
