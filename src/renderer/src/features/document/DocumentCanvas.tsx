/**
 * The centre of the studio: the first-run screen while nothing is open, else the canvas bound to
 * the document store, with the toast and the problems bar over it.
 */
import {
  ReactFlowProvider,
  type Connection,
  type EdgeChange,
  type NodeChange,
} from '@xyflow/react';
import { useCallback, useMemo } from 'react';
import type { ExampleInfo } from '../../../../shared/ipc.ts';
import type { PipelineProblem } from '../../../../shared/nodes/validate.ts';
import { Canvas } from '../../canvas/Canvas.tsx';
import { useSpecs } from '../../lib/context.ts';
import { PanelBoundary } from '../../lib/PanelBoundary.tsx';
import type { StudioNode } from '../../lib/graph.ts';
import { EmptyCanvas, FirstRun } from '../../panels/FirstRun.tsx';
import { Toast } from '../toasts/Toast.tsx';
import { useDocument, useDocumentStore } from './use-document.ts';

export interface DocumentCanvasProps {
  readonly examples: readonly ExampleInfo[];
  readonly onOpenExample: (name: string) => void;
  /** Explains a refused connection. */
  readonly onRefused: (message: string) => void;
  /** The document's validation problems (the bar shows the count and the first). */
  readonly problems: readonly PipelineProblem[];
}

export function DocumentCanvas({
  examples,
  onOpenExample,
  onRefused,
  problems,
}: DocumentCanvasProps) {
  const store = useDocumentStore();
  const specs = useSpecs();
  const nodes = useDocument((s) => s.nodes);
  const edges = useDocument((s) => s.edges);
  const firstRun = useDocument((s) => s.firstRun);
  const opened = useDocument((s) => s.opened);
  // Stable handlers: the canvas memoizes on them.
  const on = useMemo(
    () => ({
      nodesChange: (c: NodeChange<StudioNode>[]) => store.applyNodeChanges(c),
      edgesChange: (c: EdgeChange[]) => store.applyEdgeChanges(c),
      connect: (c: Connection) => store.connect(c),
      select: (id: string | null) => store.select(id),
      blank: () => store.setFirstRun(false),
    }),
    [store],
  );
  const addNode = useCallback(
    (type: string, position?: { x: number; y: number }) => {
      const spec = specs.get(type);
      if (spec) store.addNode(spec, position);
    },
    [specs, store],
  );
  const [first] = problems;
  return (
    <main className="center">
      <PanelBoundary name="canvas" label="Canvas">
        {firstRun && nodes.length === 0 ? (
          <FirstRun examples={examples} onOpen={onOpenExample} onBlank={on.blank} />
        ) : (
          // A fresh canvas (and first view) for every pipeline opened.
          <ReactFlowProvider key={opened}>
            <Canvas
              nodes={nodes}
              edges={edges}
              onNodesChange={on.nodesChange}
              onEdgesChange={on.edgesChange}
              onConnect={on.connect}
              onDropType={addNode}
              onSelect={on.select}
              onBeforeChange={store.snapshot}
              onRefused={onRefused}
            />
          </ReactFlowProvider>
        )}
      </PanelBoundary>
      {!firstRun && nodes.length === 0 && (
        <EmptyCanvas examples={examples} onOpen={onOpenExample} />
      )}
      <Toast />
      {first && nodes.length > 0 && (
        <div className="problems-bar" data-testid="problems">
          {problems.length} problem{problems.length > 1 ? 's' : ''}: {first.message}
        </div>
      )}
    </main>
  );
}
