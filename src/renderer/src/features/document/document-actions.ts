/**
 * What the studio does with the open pipeline beyond editing it: new, open an example, save
 * (and save as), copy with a toast, and explain a refused connection. Plain functions over the
 * document store, shared by the toolbar, the menu and the keyboard.
 */
import type { ContractApi } from '../../../../shared/ipc.ts';
import type { Pipeline } from '../../../../shared/pipeline.ts';
import { errMsg } from '../../lib/errors.ts';
import type { Log } from '../../lib/log.ts';
import type { DocumentStore } from './document-store.ts';

export interface DocumentActionDeps {
  readonly api: ContractApi;
  readonly doc: DocumentStore;
  readonly log: Log;
  readonly flash: (message: string) => void;
  /** Asks the user for a name (window.prompt on the page); null when cancelled. */
  readonly ask: (question: string, suggestion: string) => string | null;
}

export type DocumentActions = ReturnType<typeof createDocumentActions>;

export function createDocumentActions({ api, doc, log, flash, ask }: DocumentActionDeps) {
  return {
    newPipeline: (): void => doc.reset(),

    load: (p: Pipeline, id?: string): void => doc.load(p, id),

    openExample(name: string): void {
      api.pipelines.openExample({ name }).then(
        (p) => doc.load(p),
        (e: unknown) => log('error', `example ${name}: ${errMsg(e)}`),
      );
    },

    /** Save (as a new pipeline under a name the user gives, with `asNew`). */
    async save(asNew = false): Promise<void> {
      const { name, pipelineId } = doc.get();
      let saveAs: string | undefined;
      if (asNew) {
        const answer = ask('Save as: pipeline name', `${name} copy`);
        if (!answer) return;
        saveAs = answer;
      }
      const revision = doc.saving(saveAs);
      try {
        const saved = await api.pipelines.save({
          ...(pipelineId && !asNew ? { id: pipelineId } : {}),
          pipeline: doc.pipeline(),
        });
        doc.saved(saved.id, revision);
      } catch (e) {
        doc.saveFailed();
        log('error', `save failed: ${errMsg(e)}`);
      }
    },

    copy(): void {
      const n = doc.copy();
      if (n > 0) flash(`copied ${n} node${n > 1 ? 's' : ''}`);
    },

    paste: (): void => doc.paste(),
    undo: (): void => doc.undo(),
    redo: (): void => doc.redo(),

    /** A connection the canvas refused: a toast and a log line saying why. */
    refused(message: string): void {
      flash(message);
      log('warn', `connection refused: ${message}`);
    },
  };
}
