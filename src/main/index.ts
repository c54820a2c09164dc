/**
 * Electron entry: one hardened window (see ipc/window.ts), the application menu, and the API
 * registered on IPC area by area. All computation happens in the engine host worker; this process
 * only routes requests and events.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, Menu, session, shell } from 'electron';
import { createDefaultApi } from './api/create.ts';
import type { StudioApi } from './api/studio.ts';
import { checkPipelineJson } from './graph/load.ts';
import { registry } from '../shared/nodes/registry.ts';
import { forwardPushes, registerAllHandlers } from './ipc/register.ts';
import { applyCsp, hardenContents, menuTemplate, windowOptions } from './ipc/window.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
let api: StudioApi | null = null;
let win: BrowserWindow | null = null;

function appUrl(): string {
  const dev = process.env.ELECTRON_RENDERER_URL;
  if (dev && !app.isPackaged) return dev;
  return new URL('../renderer/index.html', import.meta.url).href;
}

async function openPipelineFile(): Promise<void> {
  if (!win) return;
  const r = await dialog.showOpenDialog(win, {
    title: 'Open pipeline',
    filters: [{ name: 'D2NWG pipeline', extensions: ['json'] }],
    properties: ['openFile'],
  });
  const file = r.filePaths[0];
  if (r.canceled || !file) return;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    dialog.showErrorBox('Cannot open pipeline', `${file}: ${String(err)}`);
    return;
  }
  const check = checkPipelineJson(json, registry);
  if (!check.pipeline) {
    dialog.showErrorBox(
      'Not a pipeline',
      `${file}:\n${check.problems.map((p) => p.message).join('\n')}`,
    );
    return;
  }
  win.webContents.send('events.menu', { command: 'open', pipeline: check.pipeline });
}

async function createWindow(studio: StudioApi): Promise<void> {
  win = new BrowserWindow(windowOptions(join(here, '../preload/index.cjs')));
  const url = appUrl();
  hardenContents(win.webContents, url, (u) => shell.openExternal(u));
  const unforward = forwardPushes(studio.hub, win.webContents);
  win.on('closed', () => {
    unforward();
    win = null;
  });
  win.once('ready-to-show', () => win?.show());
  await win.loadURL(url);
}

app.on('web-contents-created', (_e, contents) => {
  contents.on('will-attach-webview', (event) => event.preventDefault());
});

void app.whenReady().then(async () => {
  applyCsp(session.defaultSession);
  api = createDefaultApi({
    mode: 'electron',
    version: app.getVersion(),
    examplesDir: join(app.getAppPath(), 'resources', 'pipelines'),
    dbFile: join(app.getPath('userData'), 'studio.db'),
    workerUrl: new URL('./host-worker.js', import.meta.url),
    chooseFolder: async () => {
      if (!win) return null;
      const r = await dialog.showOpenDialog(win, {
        title: 'Export to folder',
        properties: ['openDirectory', 'createDirectory'],
      });
      return r.canceled ? null : (r.filePaths[0] ?? null);
    },
    saveFile: async (fileName, text) => {
      if (!win) return null;
      const r = await dialog.showSaveDialog(win, {
        title: 'Export pipeline',
        defaultPath: join(app.getPath('documents'), fileName),
        filters: [{ name: 'D2NWG pipeline', extensions: ['json'] }],
      });
      if (r.canceled || !r.filePath) return null;
      await writeFile(r.filePath, text, 'utf8');
      return r.filePath;
    },
  });
  const studio = api;
  const origin = new URL(appUrl());
  registerAllHandlers(ipcMain, studio.handlers, (event) => {
    if (!win || event.sender !== win.webContents) return false;
    try {
      const frame = new URL(event.senderFrame?.url ?? '');
      return origin.protocol === 'file:'
        ? frame.protocol === 'file:' && frame.pathname === origin.pathname
        : frame.origin === origin.origin;
    } catch {
      return false;
    }
  });
  Menu.setApplicationMenu(
    Menu.buildFromTemplate(
      menuTemplate(
        {
          send: (command) => win?.webContents.send('events.menu', command),
          openPipelineFile: () => void openPipelineFile(),
        },
        process.platform === 'darwin',
      ),
    ),
  );
  await createWindow(studio);
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) void createWindow(studio);
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

app.on('will-quit', () => {
  void api?.dispose();
});
