/**
 * `d2nwg serve`: web mode. Serves the built renderer and the API on 127.0.0.1 with a token, so
 * the full app runs in any local browser without Electron.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createDefaultApi } from '../../api/create.ts';
import { parsePublicUrls, startServer } from '../../server/server.ts';
import { InputError } from '../../engine/errors.ts';
import { queueSettingOf } from './run.ts';
import { intFlag, parseCliArgs } from '../args.ts';
import type { CliCommand } from '../command.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..', '..');

const usage = `Usage: d2nwg serve [--port N] [--no-open] [--db FILE] [--data-dir DIR]
                   [--public-url URL]… [--allow-read DIR]…
                   [--queue redis://HOST:PORT [--queue-name NAME]]

Serves D2NWG Studio in your browser: the built UI (out/renderer; run \`npm run build\` first) and
the same API the desktop app uses, on 127.0.0.1 only. The printed URL carries a random token;
requests without it are refused (401).

Options:
  --port N         port on 127.0.0.1 (default 0: a free port)
  --no-open        do not open a browser
  --db FILE        SQLite store (default: $XDG_DATA_HOME/d2nwg-studio/studio.db)
  --data-dir DIR   artifacts, caches and web exports (default: the DB's folder)
  --public-url URL the address you open when a tunnel or proxy forwards another port to this
                   one (ssh -L 9000:127.0.0.1:8080 … → --public-url http://localhost:9000);
                   repeatable. Without it such requests get 403 (wrong Host or Origin).
  --allow-read DIR a folder pipelines may read datasets and zoos from, besides the data dir;
                   repeatable. Other paths are refused (symlinks are followed); exports are
                   written inside the data dir only.
  --queue URL      run sweeps as jobs for the \`d2nwg worker\` processes serving this Redis
                   (default: D2NWG_QUEUE; without either, in process). The app's settings
                   (settings.json in the data dir, edited in the Sweeps panel) override it.
  --queue-name N   queue name on that Redis (default: D2NWG_QUEUE_NAME, else 'd2nwg')`;

function openBrowser(url: string): void {
  const cmd =
    process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(cmd, [url], { detached: true, stdio: 'ignore' });
    child.on('error', () => console.error(`(could not open a browser; open the URL yourself)`));
    child.unref();
  } catch {
    console.error('(could not open a browser; open the URL yourself)');
  }
}

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'run the app in a local browser (127.0.0.1, token-protected)',
  usage,
  async run(argv) {
    const { values } = parseCliArgs(
      'serve',
      argv,
      {
        port: { type: 'string' },
        'no-open': { type: 'boolean' },
        db: { type: 'string' },
        'data-dir': { type: 'string' },
        'public-url': { type: 'string', multiple: true },
        'allow-read': { type: 'string', multiple: true },
        queue: { type: 'string' },
        'queue-name': { type: 'string' },
      },
      false,
    );
    const port = intFlag(values.port, 'port', 0);
    if (port < 0 || port > 65535) throw new InputError(`--port must be 0–65535, got ${port}`);
    const publicUrls = values['public-url'] ?? [];
    parsePublicUrls(publicUrls);
    const rendererDir = join(ROOT, 'out', 'renderer');
    if (!existsSync(join(rendererDir, 'index.html'))) {
      throw new InputError(
        `the UI is not built (${rendererDir}/index.html is missing); run \`npm run build\` first`,
      );
    }
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const api = createDefaultApi({
      mode: 'web',
      version: pkg.version,
      examplesDir: join(ROOT, 'resources', 'pipelines'),
      dbFile: values.db,
      dataDir: values['data-dir'],
      allowRead: values['allow-read'] ?? [],
      queue: await queueSettingOf(values),
    });
    const server = await startServer({ api, rendererDir, port, publicUrls });
    console.log(`D2NWG Studio is running at ${server.url}`);
    console.log(
      'Only this machine can reach it; the token in the URL is required. Ctrl-C stops it.',
    );
    if (!values['no-open']) openBrowser(server.url);
    await new Promise<void>((resolveStop) => {
      const stop = () => resolveStop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    console.error('stopping…');
    await server.close();
    await api.dispose();
    return 0;
  },
};
