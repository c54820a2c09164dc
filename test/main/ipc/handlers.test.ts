import { describe, expect, it, vi } from 'vitest';
import type { IpcMainInvokeEvent } from 'electron';
import {
  registerAllHandlers,
  registrars,
  removeAllHandlers,
} from '../../../src/main/ipc/register.ts';
import { INVOKE_CHANNELS, type Envelope } from '../../../src/shared/ipc.ts';
import type { ApiHandlers } from '../../../src/main/api/dispatch.ts';

type Handler = (event: IpcMainInvokeEvent, raw: unknown) => Promise<Envelope<unknown>>;

function fakeIpcMain() {
  const handlers = new Map<string, Handler>();
  return {
    handlers,
    handle: vi.fn((channel: string, h: Handler) => {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      handlers.set(channel, h);
    }),
    removeHandler: vi.fn((channel: string) => handlers.delete(channel)),
  };
}

/** Handlers that record their (validated) params. */
function recordingHandlers(calls: [string, unknown][]): ApiHandlers {
  const out: Record<string, (p: unknown) => Promise<unknown>> = {};
  for (const c of INVOKE_CHANNELS) {
    out[c] = async (p) => {
      calls.push([c, p]);
      return { echoed: c };
    };
  }
  return out as unknown as ApiHandlers;
}

const event = { senderFrame: { url: 'file:///app/index.html' } } as unknown as IpcMainInvokeEvent;

describe('IPC handlers', () => {
  it('registers exactly the contract channels, one area at a time', () => {
    const ipc = fakeIpcMain();
    const registered = registerAllHandlers(ipc, recordingHandlers([]));
    expect([...registered].sort()).toEqual([...INVOKE_CHANNELS].sort());
    expect([...ipc.handlers.keys()].sort()).toEqual([...INVOKE_CHANNELS].sort());
    const runs = fakeIpcMain();
    expect(registrars.runs(runs, recordingHandlers([])).every((c) => c.startsWith('runs.'))).toBe(
      true,
    );
    removeAllHandlers(ipc);
    expect(ipc.handlers.size).toBe(0);
  });

  it('rejects invalid arguments with a clear error and never calls the API', async () => {
    const ipc = fakeIpcMain();
    const calls: [string, unknown][] = [];
    registerAllHandlers(ipc, recordingHandlers(calls));
    const start = ipc.handlers.get('runs.start');
    const get = ipc.handlers.get('runs.get');
    if (!start || !get) throw new Error('missing handler');
    const bad = await start(event, {
      pipeline: { format: 'd2nwg-pipeline', version: 1, nodes: [] },
    });
    expect(bad).toEqual({
      ok: false,
      error: {
        kind: 'ArgsError',
        message: expect.stringMatching(/^invalid arguments for 'runs\.start': pipeline\.name: /),
      },
    });
    expect(await get(event, { runId: '' })).toMatchObject({
      ok: false,
      error: {
        message: "invalid arguments for 'runs.get': runId: runId must be a non-empty string",
      },
    });
    expect(await get(event, { runId: 'r1', extra: true })).toMatchObject({
      ok: false,
      error: { kind: 'ArgsError', message: expect.stringContaining('extra') },
    });
    expect(await get(event, 'r1')).toMatchObject({ ok: false, error: { kind: 'ArgsError' } });
    expect(calls).toEqual([]);
    expect(await get(event, { runId: 'r1' })).toEqual({ ok: true, value: { echoed: 'runs.get' } });
    expect(calls).toEqual([['runs.get', { runId: 'r1' }]]);
  });

  it('refuses requests from an untrusted sender', async () => {
    const ipc = fakeIpcMain();
    const calls: [string, unknown][] = [];
    registerAllHandlers(ipc, recordingHandlers(calls), (e) =>
      (e.senderFrame?.url ?? '').startsWith('file:///app/'),
    );
    const list = ipc.handlers.get('runs.list');
    if (!list) throw new Error('missing handler');
    const foreign = {
      senderFrame: { url: 'https://evil.example/' },
    } as unknown as IpcMainInvokeEvent;
    expect(await list(foreign, {})).toMatchObject({ ok: false, error: { kind: 'Forbidden' } });
    expect(await list(event, {})).toMatchObject({ ok: true });
    expect(calls).toHaveLength(1);
  });
});
