/**
 * Monaco JSON editor of a node config, with the config's JSON Schema for validation and
 * completion. Loaded lazily (its own chunk). Monaco 0.57 under vite needs every worker supplied
 * through MonacoEnvironment.getWorker; only the editor and JSON workers are used here. Config
 * problems are markers from the node spec's own schema (`configTextProblems`), so a misspelt key
 * reads "`epoch`: unknown key; did you mean `epochs`?" as everywhere else in the studio.
 */
import * as monaco from 'monaco-editor';
import EditorWorker from 'monaco-editor/editor/editor.worker?worker';
import JsonWorker from 'monaco-editor/languages/features/json/json.worker?worker';
import { useEffect, useRef } from 'react';
import { configTextProblems, openSchema } from '../lib/config-issues.ts';
import { errMsg } from '../lib/errors.ts';

self.MonacoEnvironment = {
  getWorker(_id: string, label: string) {
    return label === 'json' ? new JsonWorker() : new EditorWorker();
  },
};

monaco.editor.defineTheme('d2nwg-dark', {
  base: 'vs-dark',
  inherit: true,
  rules: [],
  colors: { 'editor.background': '#12151b' },
});

/** Owner of the config-problem markers (Monaco keeps markers per owner). */
const CONFIG_MARKERS = 'd2nwg-config';

/** Put the config problems of the model's text on it as error markers. */
function markConfig(model: monaco.editor.ITextModel, type: string): void {
  const markers = configTextProblems(type, model.getValue()).map((p) => {
    const from = model.getPositionAt(p.start);
    const to = model.getPositionAt(p.end);
    return {
      severity: monaco.MarkerSeverity.Error,
      message: p.message,
      startLineNumber: from.lineNumber,
      startColumn: from.column,
      endLineNumber: to.lineNumber,
      endColumn: to.column,
    };
  });
  monaco.editor.setModelMarkers(model, CONFIG_MARKERS, markers);
}

/** Every open config editor registers its schema here; Monaco takes one list for all models. */
const schemas = new Map<string, { uri: string; fileMatch: string[]; schema: unknown }>();
function publishSchemas() {
  monaco.json.jsonDefaults.setDiagnosticsOptions({
    validate: true,
    allowComments: false,
    enableSchemaRequest: false,
    schemas: [...schemas.values()],
  });
}

export interface MonacoJsonProps {
  /** Node id; names the model. */
  readonly nodeId: string;
  /** Node type; names the schema. */
  readonly type: string;
  readonly schema: Record<string, unknown>;
  readonly value: unknown;
  /** Parsed JSON on every edit that parses; `error` when it does not. */
  readonly onChange: (value: unknown) => void;
  readonly onSyntaxError: (message: string | null) => void;
}

export default function MonacoJson(props: MonacoJsonProps) {
  const host = useRef<HTMLDivElement>(null);
  const editorRef = useRef<monaco.editor.IStandaloneCodeEditor | null>(null);
  const latest = useRef(props);
  useEffect(() => {
    latest.current = props;
  });

  const { nodeId, type, schema, value } = props;

  // The editor is rebuilt only for another node (or schema); value changes are synced below.
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const uri = monaco.Uri.parse(`d2nwg://config/${nodeId}.json`);
    // Unknown keys are this editor's markers (with the key meant), not Monaco's generic ones.
    schemas.set(nodeId, {
      uri: `d2nwg://schema/${type}`,
      fileMatch: [uri.toString()],
      schema: openSchema(schema),
    });
    publishSchemas();
    const text = JSON.stringify(latest.current.value, null, 2);
    const model = monaco.editor.getModel(uri) ?? monaco.editor.createModel(text, 'json', uri);
    model.setValue(text);
    markConfig(model, type);
    const editor = monaco.editor.create(el, {
      model,
      theme: 'd2nwg-dark',
      automaticLayout: true,
      minimap: { enabled: false },
      fontSize: 12,
      lineNumbers: 'off',
      scrollBeyondLastLine: false,
      tabSize: 2,
      quickSuggestions: { strings: true, other: true, comments: false },
      fixedOverflowWidgets: true,
    });
    editorRef.current = editor;
    const sub = model.onDidChangeContent(() => {
      markConfig(model, type);
      try {
        const parsed: unknown = JSON.parse(model.getValue());
        latest.current.onSyntaxError(null);
        latest.current.onChange(parsed);
      } catch (err) {
        latest.current.onSyntaxError(errMsg(err));
      }
    });
    return () => {
      sub.dispose();
      editor.dispose();
      model.dispose();
      schemas.delete(nodeId);
      publishSchemas();
      editorRef.current = null;
    };
  }, [nodeId, type, schema]);

  // Form → editor: replace the text only when it means something else (keeps the cursor).
  useEffect(() => {
    const model = editorRef.current?.getModel();
    if (!model) return;
    let same = false;
    try {
      same = JSON.stringify(JSON.parse(model.getValue())) === JSON.stringify(value);
    } catch {
      same = false;
    }
    if (!same) model.setValue(JSON.stringify(value, null, 2));
  }, [value]);

  return <div className="monaco" ref={host} data-testid="monaco" />;
}
