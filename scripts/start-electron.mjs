#!/usr/bin/env node
// `npm start`: build the app, make better-sqlite3 loadable by Electron, and launch it.
//
// better-sqlite3 is a native module; the copy npm built is for Node's ABI and does not load in
// Electron. When @electron/rebuild is installed, this rebuilds it for Electron once (a stamp file
// remembers for which Electron version). Afterwards `npm test` needs the Node build back:
// `npm rebuild better-sqlite3` (this script says so when it rebuilt).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const require = createRequire(join(root, 'package.json'));
const stamp = join(root, 'node_modules', '.d2nwg-better-sqlite3-abi');

function fail(message) {
  console.error(`npm start: ${message}`);
  process.exit(1);
}

// 1. The Electron binary (npm's allowScripts denies its download script by default).
let electronBin;
try {
  electronBin = require('electron');
} catch {
  fail(
    'the Electron binary is not installed (its download script was not allowed to run).\n' +
      '  Fetch it with: node node_modules/electron/install.js\n' +
      '  Or use the browser version instead: npm run build && npm run serve',
  );
}
const electronVersion = JSON.parse(
  readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8'),
).version;

// 2. better-sqlite3 for Electron's ABI.
const wanted = `electron-${electronVersion}`;
const current = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : 'node';
if (current !== wanted) {
  let rebuild;
  try {
    ({ rebuild } = await import('@electron/rebuild'));
  } catch {
    fail(
      'better-sqlite3 is built for Node, not Electron, and @electron/rebuild is not installed.\n' +
        '  Install it once: npm i -D @electron/rebuild   (then run npm start again)',
    );
  }
  console.error(`npm start: rebuilding better-sqlite3 for Electron ${electronVersion}…`);
  await rebuild({ buildPath: root, electronVersion, onlyModules: ['better-sqlite3'], force: true });
  writeFileSync(stamp, `${wanted}\n`);
  console.error(
    'npm start: done. Note: `npm test` and the CLI need the Node build again: npm rebuild better-sqlite3 && rm ' +
      stamp,
  );
}

// 3. Build main, preload and renderer, then launch.
const build = spawnSync('npx', ['electron-vite', 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) fail('electron-vite build failed');
const child = spawn(electronBin, [root, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 0));
