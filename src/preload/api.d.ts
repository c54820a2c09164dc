// The renderer's view of what the preload exposes. Absent in web mode (the renderer then talks
// HTTP/WebSocket through the same ContractApi shape).
import type { ContractApi } from '../shared/ipc.ts';

declare global {
  interface Window {
    /** Set by the Electron preload; undefined in a plain browser. */
    readonly api?: ContractApi;
  }
}
