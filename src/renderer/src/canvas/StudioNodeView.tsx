/** One node on the canvas: header with status badge, progress bar, typed ports, error line. */
import { Handle, Position, type NodeProps } from '@xyflow/react';
import { memo } from 'react';
import { useInherited, useNodeRunState, useProblems, useSpecs } from '../lib/context.ts';
import { carriedText, type StudioNode } from '../lib/graph.ts';
import { PORT_COLORS } from './ports.ts';

const STATUS_LABEL = {
  idle: 'idle',
  queued: 'queued',
  running: 'running',
  cached: 'cached',
  done: 'done',
  error: 'error',
  skipped: 'skipped',
} as const;

function StudioNodeViewImpl({ id, data, selected }: NodeProps<StudioNode>) {
  const spec = useSpecs().get(data.type);
  const run = useNodeRunState(id);
  const problems = useProblems().get(id) ?? [];
  const inherited = useInherited().get(id);
  const status = run?.status ?? 'idle';
  const invalid = problems.length > 0;
  const pct =
    run?.progress && run.progress.max > 0
      ? Math.min(100, (100 * run.progress.value) / run.progress.max)
      : 0;
  const rows = Math.max(spec?.inputs.length ?? 0, spec?.outputs.length ?? 0);
  return (
    <div
      className={`node status-${status}${selected ? ' selected' : ''}${invalid ? ' invalid' : ''}`}
      data-testid={`node-${id}`}
      data-status={status}
    >
      <div className="node-header">
        <span className="node-title">{data.title ?? spec?.title ?? data.type}</span>
        <span className={`badge badge-${status}`} data-testid={`badge-${id}`}>
          {STATUS_LABEL[status]}
        </span>
      </div>
      <div className="node-sub">
        <span className="node-id">{id}</span>
        <span className="node-type">{data.type}</span>
      </div>
      <div className="node-ports" style={{ minHeight: rows * 22 }}>
        <div className="port-col">
          {(spec?.inputs ?? []).map((p, i) => {
            // An unwired input the chain carries is satisfied: a hollow handle, a dimmed label.
            const from = inherited?.get(p.id);
            return (
              <div
                className={`port in${from ? ' inherited' : ''}`}
                key={p.id}
                title={`${p.type}${p.optional ? ' (optional)' : ''}${from ? `: ${carriedText(spec, from)}` : ''}`}
                data-testid={`port-${id}-${p.id}`}
                {...(from ? { 'data-inherited': `${from.node}.${from.port}` } : {})}
              >
                <Handle
                  type="target"
                  position={Position.Left}
                  id={p.id}
                  style={{
                    top: 70 + i * 22,
                    ...(from
                      ? { background: 'transparent', borderColor: PORT_COLORS[p.type] }
                      : { background: PORT_COLORS[p.type] }),
                  }}
                  data-porttype={p.type}
                />
                <span>
                  {p.label}
                  {p.optional ? '?' : ''}
                </span>
              </div>
            );
          })}
        </div>
        <div className="port-col right">
          {(spec?.outputs ?? []).map((p, i) => (
            <div className="port out" key={p.id} title={p.type}>
              <span>{p.label}</span>
              <Handle
                type="source"
                position={Position.Right}
                id={p.id}
                style={{ top: 70 + i * 22, background: PORT_COLORS[p.type] }}
                data-porttype={p.type}
              />
            </div>
          ))}
        </div>
      </div>
      {status === 'running' && (
        <div className="progress" title={run?.progress?.label}>
          <div className="progress-bar" style={{ transform: `scaleX(${pct / 100})` }} />
          <span className="progress-text">
            {run?.progress
              ? `${run.progress.label ? `${run.progress.label} · ` : ''}${run.progress.value}/${run.progress.max}`
              : '…'}
          </span>
        </div>
      )}
      {(status === 'error' || status === 'skipped') && run?.message && (
        <div className="node-error" data-testid={`error-${id}`}>
          {run.message}
        </div>
      )}
      {invalid && (
        <div className="node-invalid" title={problems.join('\n')}>
          {problems[0]}
        </div>
      )}
    </div>
  );
}

/** Memoised: React Flow re-renders nodes often. */
export const StudioNodeView = memo(StudioNodeViewImpl);
