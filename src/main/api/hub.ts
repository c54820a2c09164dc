/**
 * Push side of the API: the engine host and the API publish here; each transport (the Electron
 * window, every WebSocket client) subscribes once and forwards what it gets.
 */
import type { PayloadOf, PushChannelName } from '../../shared/ipc.ts';

/** A subscriber sees every push message with its channel. */
export type PushListener = <C extends PushChannelName>(channel: C, payload: PayloadOf<C>) => void;

/** Fan-out of push messages to transports. */
export class PushHub {
  private readonly listeners = new Set<PushListener>();

  /** Sends a message to every subscriber; a throwing subscriber does not stop the others. */
  emit<C extends PushChannelName>(channel: C, payload: PayloadOf<C>): void {
    for (const l of [...this.listeners]) {
      try {
        l(channel, payload);
      } catch (err) {
        console.error(`push listener failed on ${channel}:`, err);
      }
    }
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: PushListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.listeners.size;
  }
}
