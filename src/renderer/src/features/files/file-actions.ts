/**
 * Pipelines as files: list the saved ones, open, rename, delete (after a confirmation; runs stay),
 * import a JSON file (checked by the API with the strict schemas) and export one as JSON (a
 * download in web mode, the native save dialog in the desktop app). Plain functions over the API
 * and the document store, like the document actions; the file list dialog calls them.
 */
import type { ContractApi, PipelineSummary } from '../../../../shared/ipc.ts';
import { pipelineFileName, pipelineFileText, type Pipeline } from '../../../../shared/pipeline.ts';
import { errMsg } from '../../lib/errors.ts';
import type { Log } from '../../lib/log.ts';
import type { DocumentStore } from '../document/document-store.ts';

export interface FileActionDeps {
  readonly api: ContractApi;
  readonly doc: DocumentStore;
  readonly log: Log;
  readonly flash: (message: string) => void;
  /** Asks for a name (window.prompt on the page); null when cancelled. */
  readonly ask: (question: string, suggestion: string) => string | null;
  /** Asks a yes/no question (window.confirm on the page). */
  readonly confirm: (question: string) => boolean;
  /** Web mode: offers `text` as a file download named `fileName`. */
  readonly download: (text: string, fileName: string) => void;
  /** Which front door: web mode downloads, the desktop app shows a save dialog. */
  readonly mode: 'electron' | 'web';
}

/** A file the user picked to import: its name and text. */
export interface PickedFile {
  readonly name: string;
  readonly text: string;
}

export type FileActions = ReturnType<typeof createFileActions>;

export function createFileActions(deps: FileActionDeps) {
  const { api, doc, log, flash } = deps;

  const exportPipeline = async (pipeline: Pipeline): Promise<void> => {
    if (deps.mode === 'web') {
      const file = pipelineFileName(pipeline.name);
      deps.download(pipelineFileText(pipeline), file);
      flash(`downloaded ${file}`);
      return;
    }
    try {
      const r = await api.pipelines.exportFile({ pipeline });
      if (r.file !== null) flash(`exported to ${r.file}`);
    } catch (e) {
      log('error', `export of '${pipeline.name}' failed: ${errMsg(e)}`);
    }
  };

  return {
    /** The saved pipelines, newest first. */
    list: (): Promise<PipelineSummary[]> => api.pipelines.list({}),

    /** Open a saved pipeline on the canvas. */
    async open(id: string): Promise<void> {
      const d = await api.pipelines.get({ id });
      doc.load(d.pipeline, d.id);
    },

    /** Ask for a new name and rename; false when cancelled or unchanged. */
    async rename(p: PipelineSummary): Promise<boolean> {
      const answer = deps.ask(`Rename '${p.name}' to`, p.name)?.trim();
      if (!answer || answer === p.name) return false;
      const saved = await api.pipelines.rename({ id: p.id, name: answer });
      if (doc.get().pipelineId === p.id) doc.renamed(saved.name);
      return true;
    },

    /** Delete after a confirmation; the runs of the pipeline are kept. False when declined. */
    async remove(p: PipelineSummary): Promise<boolean> {
      const yes = deps.confirm(
        `Delete the pipeline '${p.name}' and its saved versions? Its runs are kept.`,
      );
      if (!yes) return false;
      await api.pipelines.delete({ id: p.id });
      if (doc.get().pipelineId === p.id) doc.detach();
      flash(`deleted '${p.name}'`);
      return true;
    },

    /**
     * Import a picked file: the API checks it and saves it; it then opens on the canvas. A refused
     * file rejects with the API's message (the file name and what is wrong).
     */
    async importFile(file: PickedFile): Promise<void> {
      const d = await api.pipelines.import({ fileName: file.name, text: file.text });
      doc.load(d.pipeline, d.id);
      flash(`imported '${d.name}'`);
    },

    /** Export the pipeline open on the canvas, as it is now. */
    exportCurrent: (): Promise<void> => exportPipeline(doc.pipeline()),

    /** Export a saved pipeline. */
    async exportSaved(id: string): Promise<void> {
      const d = await api.pipelines.get({ id });
      await exportPipeline(d.pipeline);
    },
  };
}
