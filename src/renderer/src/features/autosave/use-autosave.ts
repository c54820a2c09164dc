/** Autosave: the document is saved a quiet AUTOSAVE_MS after its last edit. */
import { useEffect } from 'react';
import { useDocument } from '../document/use-document.ts';

/** Quiet time after the last edit before saving. */
export const AUTOSAVE_MS = 1200;

/** Call `save` once the document is dirty, not empty, and has not changed for `delayMs`. */
export function useAutosave(save: () => Promise<void>, delayMs = AUTOSAVE_MS): void {
  const dirty = useDocument((s) => s.dirty);
  const empty = useDocument((s) => s.nodes.length === 0);
  // Every edit bumps the revision, so each one restarts the quiet period.
  const revision = useDocument((s) => s.revision);
  useEffect(() => {
    if (!dirty || empty) return;
    const t = setTimeout(() => void save(), delayMs);
    return () => clearTimeout(t);
  }, [dirty, empty, revision, save, delayMs]);
}
