/** Node palette: grouped by category, searchable; drag onto the canvas or click to add. */
import { useMemo, useState, type DragEvent } from 'react';
import type { NodeSpecInfo } from '../../../shared/ipc.ts';
import { NODE_CATEGORIES } from '../../../shared/nodes/spec.ts';
import { DRAG_MIME } from '../canvas/Canvas.tsx';
import { PORT_COLORS } from '../canvas/ports.ts';

export interface PaletteProps {
  readonly specs: readonly NodeSpecInfo[];
  readonly onAdd: (type: string) => void;
}

export function Palette({ specs, onAdd }: PaletteProps) {
  const [query, setQuery] = useState('');
  const groups = useMemo(() => {
    const q = query.trim().toLowerCase();
    const hit = (s: NodeSpecInfo) =>
      !q || `${s.title} ${s.type} ${s.category} ${s.help}`.toLowerCase().includes(q);
    return NODE_CATEGORIES.map((c) => ({
      category: c,
      items: specs.filter((s) => s.category === c && hit(s)),
    })).filter((g) => g.items.length > 0);
  }, [specs, query]);

  const onDragStart = (e: DragEvent, type: string) => {
    e.dataTransfer.setData(DRAG_MIME, type);
    e.dataTransfer.effectAllowed = 'copy';
  };

  return (
    <aside className="palette" data-testid="palette">
      <input
        className="search"
        type="search"
        placeholder="Search nodes…"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        aria-label="Search nodes"
      />
      <div className="palette-groups">
        {groups.map((g) => (
          <section key={g.category}>
            <h3>{g.category}</h3>
            {g.items.map((s) => (
              <button
                type="button"
                key={s.type}
                className="palette-item"
                draggable
                onDragStart={(e) => onDragStart(e, s.type)}
                onClick={() => onAdd(s.type)}
                title={s.help}
                data-testid={`palette-${s.type}`}
              >
                <span className="palette-title">{s.title}</span>
                <span className="palette-ports">
                  {[...s.inputs, ...s.outputs].map((p, i) => (
                    <i key={`${p.id}-${i}`} style={{ background: PORT_COLORS[p.type] }} />
                  ))}
                </span>
              </button>
            ))}
          </section>
        ))}
        {groups.length === 0 && <p className="muted">No node matches “{query}”.</p>}
      </div>
    </aside>
  );
}
