import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { ApiHandlers } from '../../../src/main/api/dispatch.ts';
import type { Api } from '../../../src/preload/index.ts';
import {
  INVOKE_CHANNELS,
  PUSH_CHANNELS,
  type ChannelName,
  type ContractApi,
  type InvokeChannelName,
  type ParamsIn,
  type PayloadOf,
  type ResultOf,
} from '../../../src/shared/ipc.ts';

const electron = vi.hoisted(() => ({
  exposed: new Map<string, unknown>(),
  invoke: vi.fn(async (channel: string) => ({ ok: true, value: `reply:${channel}` })),
  on: vi.fn(),
  removeListener: vi.fn(),
}));
vi.mock('electron', () => ({
  contextBridge: {
    exposeInMainWorld: (key: string, value: unknown) => electron.exposed.set(key, value),
  },
  ipcRenderer: {
    invoke: electron.invoke,
    on: electron.on,
    removeListener: electron.removeListener,
  },
}));

/** `area.method` for every function of an API object. */
type Flatten<A> = {
  [Area in keyof A & string]: `${Area}.${keyof A[Area] & string}`;
}[keyof A & string];

describe('preload window.api', () => {
  it('covers every channel of the contract, with the contract types (compile-time)', () => {
    expectTypeOf<Flatten<Api>>().toEqualTypeOf<ChannelName>();
    expectTypeOf<keyof ApiHandlers>().toEqualTypeOf<InvokeChannelName>();
    expectTypeOf<Api>().toEqualTypeOf<ContractApi>();
    expectTypeOf<Api['runs']['start']>().toEqualTypeOf<
      (p: ParamsIn<'runs.start'>) => Promise<ResultOf<'runs.start'>>
    >();
    expectTypeOf<Parameters<Api['events']['run']>[0]>().toEqualTypeOf<
      (payload: PayloadOf<'events.run'>) => void
    >();
  });

  it('exposes one api object whose functions reach exactly the contract channels', async () => {
    await import('../../../src/preload/index.ts');
    const api = electron.exposed.get('api') as Record<string, Record<string, unknown>>;
    expect([...electron.exposed.keys()]).toEqual(['api']);
    const flat = Object.entries(api).flatMap(([area, fns]) =>
      Object.keys(fns).map((m) => `${area}.${m}`),
    );
    expect(flat.sort()).toEqual([...INVOKE_CHANNELS, ...PUSH_CHANNELS].sort());

    const list = api.runs.list as (p: object) => Promise<unknown>;
    await expect(list({})).resolves.toBe('reply:runs.list');
    expect(electron.invoke).toHaveBeenCalledWith('runs.list', {});

    electron.invoke.mockResolvedValueOnce({
      ok: false,
      error: { kind: 'ArgsError', message: 'bad' },
    } as never);
    await expect(list({})).rejects.toMatchObject({
      name: 'ApiError',
      kind: 'ArgsError',
      message: 'bad',
    });

    const listener = vi.fn();
    const off = (api.events.run as (l: (p: unknown) => void) => () => void)(listener);
    expect(electron.on).toHaveBeenCalledWith('events.run', expect.any(Function));
    const handler = electron.on.mock.calls[0][1] as (e: unknown, p: unknown) => void;
    handler({}, { runId: 'r' });
    expect(listener).toHaveBeenCalledWith({ runId: 'r' });
    off();
    expect(electron.removeListener).toHaveBeenCalledWith('events.run', handler);
  });
});
