/** Undo/redo over canvas snapshots (nodes + edges), capped so long sessions stay small. */
import type { StudioEdge, StudioNode } from './graph.ts';

export interface Snapshot {
  readonly nodes: readonly StudioNode[];
  readonly edges: readonly StudioEdge[];
}

const LIMIT = 100;

/** Linear history: `push` records the state before a change; undo/redo walk it. */
export class History {
  private past: Snapshot[] = [];
  private future: Snapshot[] = [];

  push(s: Snapshot): void {
    this.past.push(s);
    if (this.past.length > LIMIT) this.past.shift();
    this.future = [];
  }

  undo(current: Snapshot): Snapshot | null {
    const prev = this.past.pop();
    if (!prev) return null;
    this.future.push(current);
    return prev;
  }

  redo(current: Snapshot): Snapshot | null {
    const next = this.future.pop();
    if (!next) return null;
    this.past.push(current);
    return next;
  }

  get canUndo(): boolean {
    return this.past.length > 0;
  }

  get canRedo(): boolean {
    return this.future.length > 0;
  }

  clear(): void {
    this.past = [];
    this.future = [];
  }
}
