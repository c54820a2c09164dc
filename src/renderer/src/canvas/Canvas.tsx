/**
 * The pipeline canvas (React Flow). nodeTypes is defined once at module scope (xyflow error002).
 * Connections are refused unless the output's PortType equals the input's, and an input that does
 * not take several edges accepts only one.
 */
import {
  Background,
  BackgroundVariant,
  Controls,
  MiniMap,
  ReactFlow,
  useNodesInitialized,
  useReactFlow,
  type Connection,
  type Edge,
  type IsValidConnection,
  type NodeTypes,
  type OnConnectEnd,
  type OnEdgesChange,
  type OnNodesChange,
} from '@xyflow/react';
import { memo, useCallback, useEffect, useMemo, useRef, type DragEvent } from 'react';
import { useSpecs } from '../lib/context.ts';
import type { StudioEdge, StudioNode } from '../lib/graph.ts';
import { PORT_COLORS } from './ports.ts';
import { StudioNodeView } from './StudioNodeView.tsx';
import { readableViewport } from './viewport.ts';

const nodeTypes: NodeTypes = { studio: StudioNodeView };

/** MIME type of palette drags. */
export const DRAG_MIME = 'application/x-d2nwg-node';

export interface CanvasProps {
  readonly nodes: StudioNode[];
  readonly edges: StudioEdge[];
  readonly onNodesChange: OnNodesChange<StudioNode>;
  readonly onEdgesChange: OnEdgesChange;
  readonly onConnect: (c: Connection) => void;
  /** A palette item dropped at a flow position. */
  readonly onDropType: (type: string, position: { x: number; y: number }) => void;
  readonly onSelect: (nodeId: string | null) => void;
  /** Called before a user gesture changes the graph (drag start, delete), for undo. */
  readonly onBeforeChange: () => void;
  /** Explains a refused connection to the user. */
  readonly onRefused: (message: string) => void;
}

function CanvasImpl(props: CanvasProps) {
  const specs = useSpecs();
  const flow = useReactFlow<StudioNode, StudioEdge>();
  const { nodes, edges, onRefused, onSelect, onBeforeChange, onDropType } = props;
  const propsOnConnect = props.onConnect;

  // The first view, once the nodes are measured: readable text, the start of a large graph (see
  // viewport.ts). The document canvas remounts this component for every pipeline opened.
  const box = useRef<HTMLDivElement>(null);
  const measured = useNodesInitialized();
  const placed = useRef(false);
  useEffect(() => {
    const el = box.current;
    if (placed.current || !measured || !el || nodes.length === 0) return;
    placed.current = true;
    const bounds = flow.getNodesBounds(nodes);
    void flow.setViewport(
      readableViewport(bounds, { width: el.clientWidth, height: el.clientHeight }),
    );
  }, [measured, nodes, flow]);

  /** Why a connection is not allowed, or null if it is. */
  const refusal = useCallback(
    (c: Connection | Edge): string | null => {
      const src = nodes.find((n) => n.id === c.source);
      const dst = nodes.find((n) => n.id === c.target);
      if (!src || !dst) return 'unknown node';
      if (src.id === dst.id) return 'a node cannot feed itself';
      const out = specs.get(src.data.type)?.outputs.find((p) => p.id === c.sourceHandle);
      const inp = specs.get(dst.data.type)?.inputs.find((p) => p.id === c.targetHandle);
      if (!out || !inp) return 'unknown port';
      if (out.type !== inp.type) {
        return `cannot connect ${out.type} output '${out.label}' to ${inp.type} input '${inp.label}'`;
      }
      const taken = edges.some(
        (e) =>
          e.target === c.target &&
          e.targetHandle === c.targetHandle &&
          e.id !== ('id' in c ? c.id : ''),
      );
      if (taken && !inp.multiple) return `input '${inp.label}' of ${dst.id} is already connected`;
      return null;
    },
    [nodes, edges, specs],
  );

  const isValidConnection: IsValidConnection = useCallback((c) => refusal(c) === null, [refusal]);

  const onConnect = useCallback(
    (c: Connection) => {
      const why = refusal(c);
      if (why) onRefused(why);
      else propsOnConnect(c);
    },
    [refusal, onRefused, propsOnConnect],
  );

  // React Flow never calls onConnect for a refused drop; say why it was refused.
  const onConnectEnd: OnConnectEnd = useCallback(
    (_event, state) => {
      const from = state.fromHandle;
      const to = state.toHandle;
      if (state.isValid !== false || !from || !to || from.type === to.type) return;
      const [src, dst] = from.type === 'source' ? [from, to] : [to, from];
      const why = refusal({
        source: src.nodeId,
        sourceHandle: src.id ?? null,
        target: dst.nodeId,
        targetHandle: dst.id ?? null,
      });
      if (why) onRefused(why);
    },
    [refusal, onRefused],
  );

  const onDragOver = useCallback((e: DragEvent) => {
    if (e.dataTransfer.types.includes(DRAG_MIME)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    }
  }, []);

  const onDrop = useCallback(
    (e: DragEvent) => {
      const type = e.dataTransfer.getData(DRAG_MIME);
      if (!type) return;
      e.preventDefault();
      onDropType(type, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
    },
    [flow, onDropType],
  );

  // Styled edges are rebuilt only when the graph changes: new edge objects on every render would
  // make React Flow redraw every edge.
  const typeOf = useMemo(() => new Map(nodes.map((n) => [n.id, n.data.type])), [nodes]);
  const styledEdges = useMemo(
    () =>
      edges.map((e) => {
        const type = typeOf.get(e.source);
        const port = type && specs.get(type)?.outputs.find((p) => p.id === e.sourceHandle);
        return { ...e, style: { stroke: port ? PORT_COLORS[port.type] : '#888', strokeWidth: 2 } };
      }),
    [edges, typeOf, specs],
  );

  const onSelectionChange = useCallback(
    ({ nodes: sel }: { nodes: StudioNode[] }) => onSelect(sel.length === 1 ? sel[0].id : null),
    [onSelect],
  );
  const onBeforeDelete = useCallback(async () => {
    onBeforeChange();
    return true;
  }, [onBeforeChange]);

  return (
    <div className="canvas" ref={box} onDragOver={onDragOver} onDrop={onDrop} data-testid="canvas">
      <ReactFlow<StudioNode, StudioEdge>
        nodes={nodes}
        edges={styledEdges}
        nodeTypes={nodeTypes}
        onNodesChange={props.onNodesChange}
        onEdgesChange={props.onEdgesChange}
        onConnect={onConnect}
        onConnectEnd={onConnectEnd}
        isValidConnection={isValidConnection}
        onSelectionChange={onSelectionChange}
        onNodeDragStart={onBeforeChange}
        onBeforeDelete={onBeforeDelete}
        deleteKeyCode={['Delete', 'Backspace']}
        minZoom={0.2}
        panOnScroll
        colorMode="dark"
        proOptions={{ hideAttribution: true }}
      >
        <Background variant={BackgroundVariant.Dots} gap={20} size={1} color="#2a2f3a" />
        <MiniMap pannable zoomable nodeStrokeWidth={3} className="minimap" />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}

/** Memoised: the studio re-renders for reasons (runs list, toasts) that do not touch the graph. */
export const Canvas = memo(CanvasImpl);
