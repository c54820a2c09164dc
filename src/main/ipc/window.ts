/**
 * The security posture of the desktop window, kept apart from index.ts so it can be unit-tested
 * with electron mocked: isolated, sandboxed renderer without Node, a strict CSP, no navigation
 * away from the app, and external http(s) links handed to the OS browser.
 */
import type {
  BrowserWindowConstructorOptions,
  MenuItemConstructorOptions,
  Session,
  WebContents,
} from 'electron';
import { APP_CSP } from '../../shared/csp.ts';
import type { MenuCommand } from '../../shared/ipc.ts';

export { APP_CSP };

/** BrowserWindow options; the webPreferences flags are the point. */
export function windowOptions(preload: string): BrowserWindowConstructorOptions {
  return {
    width: 1440,
    height: 900,
    minWidth: 960,
    minHeight: 600,
    backgroundColor: '#0f1115',
    show: false,
    title: 'D2NWG Studio',
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  };
}

/** True when `url` is an http(s) link we may hand to the OS browser. */
export function isExternalHttp(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * Keep the window on the app: block every navigation away from `appUrl`'s origin (or file), deny
 * new windows and webviews, and open http(s) links with `openExternal` instead.
 */
export function hardenContents(
  contents: Pick<WebContents, 'on' | 'setWindowOpenHandler'>,
  appUrl: string,
  openExternal: (url: string) => unknown,
): void {
  const allowed = new URL(appUrl);
  const sameApp = (url: string) => {
    try {
      const u = new URL(url);
      if (allowed.protocol === 'file:')
        return u.protocol === 'file:' && u.pathname === allowed.pathname;
      return u.origin === allowed.origin;
    } catch {
      return false;
    }
  };
  contents.on('will-navigate', (event, url) => {
    if (!sameApp(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!sameApp(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (isExternalHttp(url)) void openExternal(url);
    return { action: 'deny' };
  });
}

/** Add the CSP header to every response of the app's session (the meta tag covers file://). */
export function applyCsp(session: Pick<Session, 'webRequest'>): void {
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({
      responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [APP_CSP] },
    });
  });
}

/** What the menu needs from main: send a command to the renderer, or show the open dialog. */
export interface MenuActions {
  send(command: MenuCommand): void;
  openPipelineFile(): void;
}

/** The application menu: File, Run, View (and the standard Edit roles so copy/paste works). */
export function menuTemplate(actions: MenuActions, isMac: boolean): MenuItemConstructorOptions[] {
  const send = (command: Exclude<MenuCommand['command'], 'open'>) => () =>
    actions.send({ command });
  return [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        { label: 'New', accelerator: 'CmdOrCtrl+N', click: send('new') },
        { label: 'Open…', accelerator: 'CmdOrCtrl+O', click: () => actions.openPipelineFile() },
        { label: 'Save', accelerator: 'CmdOrCtrl+S', click: send('save') },
        { label: 'Save As…', accelerator: 'CmdOrCtrl+Shift+S', click: send('saveAs') },
        { type: 'separator' },
        { label: 'Export weights…', accelerator: 'CmdOrCtrl+E', click: send('export') },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: 'Run',
      submenu: [
        { label: 'Run', accelerator: 'CmdOrCtrl+Enter', click: send('run') },
        { label: 'Cancel', accelerator: 'CmdOrCtrl+.', click: send('cancel') },
      ],
    },
    {
      label: 'View',
      submenu: [
        { role: 'reload' },
        { role: 'forceReload' },
        { role: 'toggleDevTools' },
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
  ];
}
