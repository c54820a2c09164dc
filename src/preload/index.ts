/**
 * The preload: the only bridge between the sandboxed renderer and main. It exposes ONE typed
 * `window.api`, generated from the contract by `buildApi`, never raw ipcRenderer, so the page can
 * reach exactly the channels of src/shared/ipc.ts and nothing else.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { buildApi, type Envelope, type Transport } from '../shared/ipc.ts';

const transport: Transport = {
  request: (channel, params) => ipcRenderer.invoke(channel, params) as Promise<Envelope<unknown>>,
  subscribe: (channel, listener) => {
    const handler = (_event: IpcRendererEvent, payload: unknown) => listener(payload);
    ipcRenderer.on(channel, handler);
    return () => {
      ipcRenderer.removeListener(channel, handler);
    };
  },
};

/** What the renderer gets as `window.api`. */
export const api = buildApi(transport);
export type Api = typeof api;

contextBridge.exposeInMainWorld('api', api);
