/** The inspector bound to the document: the selected node, its config edits and JSON errors. */
import { useMemo } from 'react';
import { Inspector } from '../../inspector/Inspector.tsx';
import { FieldSweepContext } from '../../inspector/SchemaForm.tsx';
import { sweepsStore } from '../sweeps/sweeps-store.ts';
import { PanelBoundary } from '../../lib/PanelBoundary.tsx';
import { useDocument, useDocumentStore } from './use-document.ts';

export function DocumentInspector() {
  const store = useDocumentStore();
  const selectedId = useDocument((s) => s.selectedId);
  const node = useDocument((s) => s.nodes.find((n) => n.id === selectedId) ?? null);
  const syntaxError = useDocument((s) => (node ? (s.syntaxErrors.get(node.id) ?? null) : null));
  const on = useMemo(
    () => ({
      config: (nodeId: string, config: unknown) => store.setConfig(nodeId, config),
      syntaxError: (nodeId: string, message: string | null) =>
        store.setSyntaxError(nodeId, message),
    }),
    [store],
  );
  return (
    <PanelBoundary
      name="inspector"
      label="Inspector"
      frame={(m) => <aside className="inspector">{m}</aside>}
    >
      <FieldSweepContext.Provider
        value={node ? (path: string) => sweepsStore.open(`${node.id}.${path}`) : null}
      >
        <Inspector
          node={node}
          onConfig={on.config}
          syntaxError={syntaxError}
          onSyntaxError={on.syntaxError}
        />
      </FieldSweepContext.Provider>
    </PanelBoundary>
  );
}
