/**
 * Electron IPC: one `registerXHandlers()` per area of the contract, each a strict wrapper around
 * the API (zod-validated arguments, Envelope replies). Channel names come from the contract, so a
 * handler can be neither misspelt nor forgotten (test/main/ipc proves every channel is covered).
 */
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import {
  INVOKE_CHANNELS,
  type Envelope,
  type InvokeChannelName,
  type PushChannelName,
} from '../../shared/ipc.ts';
import { dispatch, type ApiHandlers } from '../api/dispatch.ts';
import type { PushHub } from '../api/hub.ts';

/** The areas of the contract that have request channels. */
export type Area = InvokeChannelName extends `${infer A}.${string}` ? A : never;

/** Only what registration needs from ipcMain, so tests can pass a recorder. */
export type IpcMainLike = Pick<IpcMain, 'handle' | 'removeHandler'>;

/**
 * Decides whether a request comes from our own window (no other frame may call the API). Returns
 * false for anything else; the default accepts every sender and is meant for tests only.
 */
export type SenderCheck = (event: IpcMainInvokeEvent) => boolean;

function registerArea(
  ipcMain: IpcMainLike,
  handlers: ApiHandlers,
  area: Area,
  trusted: SenderCheck,
): InvokeChannelName[] {
  const channels = INVOKE_CHANNELS.filter((c) => c.startsWith(`${area}.`));
  for (const channel of channels) {
    ipcMain.handle(channel, async (event, raw: unknown): Promise<Envelope<unknown>> => {
      if (!trusted(event)) {
        return { ok: false, error: { kind: 'Forbidden', message: 'untrusted sender' } };
      }
      return dispatch(handlers, channel, raw);
    });
  }
  return channels;
}

type Registrar = (ipcMain: IpcMainLike, handlers: ApiHandlers, trusted?: SenderCheck) => string[];
const all: SenderCheck = () => true;

/** Node specs for the palette and forms. */
export const registerSpecsHandlers: Registrar = (m, h, t = all) => registerArea(m, h, 'specs', t);
/** Saved pipelines, validation and examples. */
export const registerPipelinesHandlers: Registrar = (m, h, t = all) =>
  registerArea(m, h, 'pipelines', t);
/** Starting, cancelling, listing and comparing runs. */
export const registerRunsHandlers: Registrar = (m, h, t = all) => registerArea(m, h, 'runs', t);
/** Sweeps: preview, start, cancel, resume, list. */
export const registerSweepsHandlers: Registrar = (m, h, t = all) => registerArea(m, h, 'sweeps', t);
/** Weight export. */
export const registerExportHandlers: Registrar = (m, h, t = all) => registerArea(m, h, 'export', t);
/** Backend info and version. */
export const registerSystemHandlers: Registrar = (m, h, t = all) => registerArea(m, h, 'system', t);

/** One registrar per area; typed so that adding an area to the contract fails to compile here. */
export const registrars: { readonly [A in Area]: Registrar } = {
  specs: registerSpecsHandlers,
  pipelines: registerPipelinesHandlers,
  runs: registerRunsHandlers,
  sweeps: registerSweepsHandlers,
  export: registerExportHandlers,
  system: registerSystemHandlers,
};

/** Register every area; returns the channels registered. */
export function registerAllHandlers(
  ipcMain: IpcMainLike,
  handlers: ApiHandlers,
  trusted: SenderCheck = all,
): string[] {
  return Object.values(registrars).flatMap((r) => r(ipcMain, handlers, trusted));
}

/** Remove every handler (window reload in dev, tests). */
export function removeAllHandlers(ipcMain: IpcMainLike): void {
  for (const c of INVOKE_CHANNELS) ipcMain.removeHandler(c);
}

/** Forward push messages to a window; returns the unsubscribe function. */
export function forwardPushes(
  hub: PushHub,
  target: Pick<WebContents, 'send' | 'isDestroyed'>,
): () => void {
  return hub.subscribe((channel: PushChannelName, payload) => {
    if (!target.isDestroyed()) target.send(channel, payload);
  });
}
