/**
 * Keyboard shortcuts of the studio. Save and Run work everywhere; undo, redo, copy and paste
 * belong to the canvas, so they are left to the field being typed in (an input, a select, Monaco).
 */
import { useEffect, useRef } from 'react';

export type ShortcutCommand = 'save' | 'saveAs' | 'run' | 'undo' | 'redo' | 'copy' | 'paste';

/** The parts of a key event a shortcut depends on. */
export interface KeyPress {
  readonly key: string;
  readonly ctrlKey: boolean;
  readonly metaKey: boolean;
  readonly shiftKey: boolean;
  /** Whether the key went to a text field, a select or the JSON editor. */
  readonly typing: boolean;
}

/** The command a key press means, or null. */
export function shortcutOf(e: KeyPress): ShortcutCommand | null {
  if (!e.ctrlKey && !e.metaKey) return null;
  const k = e.key.toLowerCase();
  if (k === 's') return e.shiftKey ? 'saveAs' : 'save';
  if (k === 'enter') return 'run';
  if (e.typing) return null;
  if (k === 'z') return e.shiftKey ? 'redo' : 'undo';
  if (k === 'y') return 'redo';
  if (k === 'c') return 'copy';
  if (k === 'v') return 'paste';
  return null;
}

/** Copy and paste keep the browser's default; the others replace it. */
const KEEPS_DEFAULT: ReadonlySet<ShortcutCommand> = new Set(['copy', 'paste']);

/** Listen on the window and call the handler of each shortcut (the latest handlers passed). */
export function useShortcuts(handlers: Readonly<Record<ShortcutCommand, () => void>>): void {
  const latest = useRef(handlers);
  useEffect(() => {
    latest.current = handlers;
  });
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target instanceof Element ? e.target : null;
      const typing = t !== null && t.closest('input, textarea, select, .monaco') !== null;
      const command = shortcutOf({
        key: e.key,
        ctrlKey: e.ctrlKey,
        metaKey: e.metaKey,
        shiftKey: e.shiftKey,
        typing,
      });
      if (!command) return;
      if (!KEEPS_DEFAULT.has(command)) e.preventDefault();
      latest.current[command]();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}
