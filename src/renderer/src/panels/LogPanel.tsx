/** The log panel: engine and app messages, newest last, errors highlighted. */
import { useEffect, useRef } from 'react';
import { useLogs } from '../lib/context.ts';

export function LogPanel() {
  const lines = useLogs();
  const end = useRef<HTMLDivElement>(null);
  // A block body: React calls whatever an effect returns as its cleanup, so the scroll call's
  // value must not be returned (a non-function there blanked the app on the next log line).
  useEffect(() => {
    end.current?.scrollIntoView({ block: 'end' });
  }, [lines.length]);
  return (
    <div className="log" data-testid="log">
      {lines.map((l, i) => (
        <div key={i} className={`log-line ${l.level}`}>
          <span className="time">{l.time.slice(11, 19)}</span>
          {l.runId && <span className="tag">{l.runId.slice(-6)}</span>}
          {l.nodeId && <span className="tag node">{l.nodeId}</span>}
          <span className="msg">{l.message}</span>
        </div>
      ))}
      {lines.length === 0 && <div className="muted">Nothing logged yet.</div>}
      <div ref={end} />
    </div>
  );
}
