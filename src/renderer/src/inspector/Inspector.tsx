/**
 * The inspector of the selected node: help, validation problems, the generated form and the Monaco
 * JSON editor of the same config. Both edit one value, so they stay in sync by construction; a
 * JSON syntax error is reported up so Run stays disabled until it is fixed.
 */
import { lazy, Suspense, useMemo } from 'react';
import { useInherited, useNodeRunState, useProblems, useSpecs } from '../lib/context.ts';
import { configIssues } from '../lib/config-issues.ts';
import { carriedText, type StudioNode } from '../lib/graph.ts';
import { SchemaForm } from './SchemaForm.tsx';

const MonacoJson = lazy(() => import('./MonacoJson.tsx'));

export interface InspectorProps {
  readonly node: StudioNode | null;
  readonly onConfig: (nodeId: string, config: unknown) => void;
  readonly syntaxError: string | null;
  readonly onSyntaxError: (nodeId: string, message: string | null) => void;
}

export function Inspector({ node, onConfig, syntaxError, onSyntaxError }: InspectorProps) {
  const specs = useSpecs();
  const problems = useProblems();
  const inherited = useInherited();
  const run = useNodeRunState(node?.id ?? '');
  const spec = node ? specs.get(node.data.type) : undefined;
  const issues = useMemo(
    () => (node ? configIssues(node.data.type, node.data.config) : new Map<string, string>()),
    [node],
  );
  if (!node) {
    return (
      <aside className="inspector empty" data-testid="inspector">
        <p className="muted">Select a node to edit its settings.</p>
        <p className="muted small">
          Drag nodes from the palette, connect outputs to inputs of the same colour, then Run.
        </p>
      </aside>
    );
  }
  const nodeProblems = problems.get(node.id) ?? [];
  // In the order of the node's input ports.
  const carried = (spec?.inputs ?? []).flatMap((p) => {
    const from = inherited.get(node.id)?.get(p.id);
    return from ? [{ id: p.id, label: p.label, from }] : [];
  });
  return (
    <aside className="inspector" data-testid="inspector">
      <header>
        <h2>{spec?.title ?? node.data.type}</h2>
        <div className="muted small">
          {node.id} · {node.data.type} v{node.data.version}
        </div>
      </header>
      {spec && <p className="help">{spec.help}</p>}
      {run?.status === 'error' && run.message && (
        <div className="alert error" role="alert">
          {run.message}
        </div>
      )}
      {nodeProblems.length > 0 && (
        <ul className="alert warn" data-testid="node-problems">
          {nodeProblems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      {carried.length > 0 && (
        <>
          <h3>Carried inputs</h3>
          <ul className="muted small carried" data-testid="carried-inputs">
            {carried.map(({ id, label, from }) => (
              <li key={id}>
                {label}: {carriedText(spec, from)}
              </li>
            ))}
          </ul>
        </>
      )}
      <h3>Settings</h3>
      {spec && (
        <SchemaForm
          schema={spec.configSchema}
          value={node.data.config}
          onChange={(v) => onConfig(node.id, v)}
          issues={issues}
        />
      )}
      <h3>
        JSON <span className="muted small">(schema-checked, Ctrl+Space completes)</span>
      </h3>
      {syntaxError && (
        <div className="alert error" data-testid="json-error">
          JSON: {syntaxError}
        </div>
      )}
      {spec && (
        <Suspense fallback={<div className="monaco loading">Loading editor…</div>}>
          <MonacoJson
            nodeId={node.id}
            type={node.data.type}
            schema={spec.configSchema}
            value={node.data.config}
            onChange={(v) => onConfig(node.id, v)}
            onSyntaxError={(m) => onSyntaxError(node.id, m)}
          />
        </Suspense>
      )}
    </aside>
  );
}
