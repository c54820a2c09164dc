/** The application menu (Electron) and its web-mode equivalents arrive as MenuCommand pushes. */
import { useEffect, useRef } from 'react';
import type { ContractApi, MenuCommand } from '../../../../shared/ipc.ts';
import type { Pipeline } from '../../../../shared/pipeline.ts';

export interface MenuHandlers {
  readonly newPipeline: () => void;
  readonly open: (p: Pipeline) => void;
  readonly save: () => void;
  readonly saveAs: () => void;
  readonly exportWeights: () => void;
  readonly run: () => void;
  readonly cancel: () => void;
}

/** Route one menu command to its handler. */
export function dispatchMenu(c: MenuCommand, h: MenuHandlers): void {
  if (c.command === 'new') h.newPipeline();
  else if (c.command === 'open') h.open(c.pipeline);
  else if (c.command === 'save') h.save();
  else if (c.command === 'saveAs') h.saveAs();
  else if (c.command === 'export') h.exportWeights();
  else if (c.command === 'run') h.run();
  else if (c.command === 'cancel') h.cancel();
}

/** Subscribe to menu commands for the page's life, calling the latest handlers passed. */
export function useMenuCommands(api: ContractApi, handlers: MenuHandlers): void {
  const latest = useRef(handlers);
  useEffect(() => {
    latest.current = handlers;
  });
  useEffect(() => api.events.menu((c) => dispatchMenu(c, latest.current)), [api]);
}
