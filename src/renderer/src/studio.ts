/**
 * The page's stores and the actions over them, wired once: the document, the runs, the live run
 * state and the toasts, with the API this page talks to. The App composes views around these;
 * menus, shortcuts and buttons all call the same actions.
 */
import { download } from './features/compare/CompareView.tsx';
import { createDocumentActions } from './features/document/document-actions.ts';
import { createFileActions } from './features/files/file-actions.ts';
import { documentStore } from './features/document/use-document.ts';
import type { MenuHandlers } from './features/menu/use-menu-commands.ts';
import { createRunActions } from './features/runs/run-actions.ts';
import { runsStore } from './features/runs/use-runs.ts';
import { createSweepActions } from './features/sweeps/sweep-actions.ts';
import { sweepsStore } from './features/sweeps/sweeps-store.ts';
import type { ShortcutCommand } from './features/shortcuts/shortcuts.ts';
import { toasts } from './features/toasts/toast-store.ts';
import { runStore } from './lib/context.ts';
import { log } from './lib/log.ts';
import { api, mode } from './lib/transport.ts';

export const documentActions = createDocumentActions({
  api,
  doc: documentStore,
  log,
  flash: toasts.flash,
  ask: (question, suggestion) => window.prompt(question, suggestion),
});

export const fileActions = createFileActions({
  api,
  doc: documentStore,
  log,
  flash: toasts.flash,
  ask: (question, suggestion) => window.prompt(question, suggestion),
  confirm: (question) => window.confirm(question),
  download: (text, file) => download(text, file, 'application/json'),
  mode,
});

export const runActions = createRunActions({
  api,
  runs: runsStore,
  doc: documentStore,
  live: runStore,
  log,
  flash: toasts.flash,
  confirm: (question) => window.confirm(question),
});

export const sweepActions = createSweepActions({
  api,
  sweeps: sweepsStore,
  runs: runsStore,
  doc: documentStore,
  log,
  flash: toasts.flash,
});

/** Autosave writes in place (never "save as"). */
export const autosave = (): Promise<void> => documentActions.save(false);

export const menuHandlers: MenuHandlers = {
  newPipeline: documentActions.newPipeline,
  open: documentActions.load,
  save: () => void documentActions.save(false),
  saveAs: () => void documentActions.save(true),
  exportWeights: runActions.exportLatest,
  run: () => void runActions.start(),
  cancel: () => void runActions.cancel(),
};

export const shortcutHandlers: Readonly<Record<ShortcutCommand, () => void>> = {
  save: menuHandlers.save,
  saveAs: menuHandlers.saveAs,
  run: menuHandlers.run,
  undo: documentActions.undo,
  redo: documentActions.redo,
  copy: documentActions.copy,
  paste: documentActions.paste,
};
