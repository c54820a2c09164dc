import { describe, expect, it, vi } from 'vitest';
import type { MenuItemConstructorOptions } from 'electron';
import {
  APP_CSP,
  hardenContents,
  menuTemplate,
  windowOptions,
} from '../../../src/main/ipc/window.ts';

describe('desktop window security', () => {
  it('isolates and sandboxes the renderer without Node', () => {
    const prefs = windowOptions('/app/preload/index.cjs').webPreferences;
    expect(prefs).toMatchObject({
      preload: '/app/preload/index.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      webviewTag: false,
    });
  });

  it('has a CSP without eval, inline scripts or remote origins', () => {
    expect(APP_CSP).toContain("script-src 'self'");
    expect(APP_CSP).not.toContain('unsafe-eval');
    expect(APP_CSP).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(APP_CSP).not.toMatch(/https?:/);
  });

  it('blocks navigation away from the app and sends http(s) links to the OS browser', () => {
    const listeners = new Map<string, (e: { preventDefault(): void }, url: string) => void>();
    let openHandler: ((d: { url: string }) => { action: string }) | undefined;
    const contents = {
      on: vi.fn((name: string, l: (e: { preventDefault(): void }, url: string) => void) => {
        listeners.set(name, l);
        return contents;
      }),
      setWindowOpenHandler: vi.fn((h: (d: { url: string }) => { action: string }) => {
        openHandler = h;
      }),
    };
    const openExternal = vi.fn();
    hardenContents(contents as never, 'file:///app/out/renderer/index.html', openExternal);

    const nav = listeners.get('will-navigate');
    if (!nav || !openHandler) throw new Error('not hardened');
    const away = { preventDefault: vi.fn() };
    nav(away, 'https://evil.example/');
    expect(away.preventDefault).toHaveBeenCalled();
    const other = { preventDefault: vi.fn() };
    nav(other, 'file:///etc/passwd');
    expect(other.preventDefault).toHaveBeenCalled();
    const home = { preventDefault: vi.fn() };
    nav(home, 'file:///app/out/renderer/index.html');
    expect(home.preventDefault).not.toHaveBeenCalled();

    expect(openHandler({ url: 'https://arxiv.org/abs/2402.18153' })).toEqual({ action: 'deny' });
    expect(openExternal).toHaveBeenCalledWith('https://arxiv.org/abs/2402.18153');
    expect(openHandler({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    expect(openHandler({ url: 'javascript:alert(1)' })).toEqual({ action: 'deny' });
    expect(openExternal).toHaveBeenCalledTimes(1);
  });

  it('has File, Run and View menus whose items send commands', () => {
    const sent: string[] = [];
    let opened = 0;
    const tpl = menuTemplate(
      { send: (c) => sent.push(c.command), openPipelineFile: () => opened++ },
      false,
    );
    const labels = tpl.map((m) => m.label ?? m.role);
    expect(labels).toEqual(['File', 'editMenu', 'Run', 'View']);
    const items = (label: string) =>
      (tpl.find((m) => m.label === label)?.submenu ?? []) as MenuItemConstructorOptions[];
    const click = (label: string, item: string) => {
      const it = items(label).find((i) => i.label === item);
      (it?.click as (() => void) | undefined)?.();
    };
    expect(
      items('File')
        .map((i) => i.label)
        .filter(Boolean),
    ).toEqual(['New', 'Open…', 'Save', 'Save As…', 'Export weights…']);
    click('File', 'Save As…');
    click('File', 'Open…');
    click('Run', 'Run');
    click('Run', 'Cancel');
    expect(sent).toEqual(['saveAs', 'run', 'cancel']);
    expect(opened).toBe(1);
    expect(items('View').map((i) => i.role)).toContain('toggleDevTools');
  });
});
