/**
 * The runs table's editable cells: a text that turns into an input on click (the name, the
 * notes) and a run's tags as chips with a remove button each and an input to add more. Edits are
 * handed to the studio (runs.update); a refused one keeps the stored value.
 */
import { useState, type KeyboardEvent, type MouseEvent } from 'react';
import { splitTags } from '../../../../shared/runs.ts';

/** Double-clicking inside an editor must not open the run (the row's double-click). */
const stop = (e: MouseEvent) => e.stopPropagation();

export interface EditableTextProps {
  readonly value: string;
  /** Shown (muted) when the value is empty. */
  readonly placeholder: string;
  /** Accessible name of the button and the input, e.g. "rename run run-abc". */
  readonly label: string;
  readonly testId: string;
  readonly onCommit: (value: string) => void;
}

/** Click to edit; Enter or leaving the field saves, Escape cancels. Unchanged text saves nothing. */
export function EditableText({ value, placeholder, label, testId, onCommit }: EditableTextProps) {
  const [draft, setDraft] = useState<string | null>(null);
  const commit = () => {
    if (draft !== null && draft !== value) onCommit(draft);
    setDraft(null);
  };
  if (draft === null) {
    return (
      <button
        type="button"
        className={`cell-edit${value ? '' : ' muted'}`}
        title={value ? `${value}\n(click to edit)` : 'click to edit'}
        aria-label={label}
        data-testid={testId}
        onClick={() => setDraft(value)}
        onDoubleClick={stop}
      >
        {value || placeholder}
      </button>
    );
  }
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') commit();
    if (e.key === 'Escape') setDraft(null);
  };
  return (
    <input
      className="cell-input"
      autoFocus
      aria-label={label}
      data-testid={`${testId}-input`}
      value={draft}
      onChange={(e) => setDraft(e.target.value)}
      onKeyDown={onKey}
      onBlur={commit}
      onDoubleClick={stop}
    />
  );
}

export interface TagsCellProps {
  readonly runId: string;
  readonly tags: readonly string[];
  /** The tag filter in force (its chip shows as active). */
  readonly activeTag: string;
  readonly onChange: (tags: string[]) => void;
  /** Click on a chip: filter the table by that tag (again: clear the filter). */
  readonly onFilter: (tag: string) => void;
}

export function TagsCell({ runId, tags, activeTag, onChange, onFilter }: TagsCellProps) {
  const [draft, setDraft] = useState<string | null>(null);
  const add = () => {
    const more = splitTags(draft ?? '');
    if (more.length) onChange([...tags, ...more.filter((t) => !tags.includes(t))]);
    setDraft(null);
  };
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') add();
    if (e.key === 'Escape') setDraft(null);
  };
  return (
    <span className="tags" onDoubleClick={stop}>
      {tags.map((t) => (
        <span key={t} className={`tag-chip${t === activeTag ? ' active' : ''}`}>
          <button
            type="button"
            className="tag-name"
            title={t === activeTag ? 'show every tag' : `show only runs tagged ${t}`}
            data-testid={`tag-${runId}-${t}`}
            onClick={() => onFilter(t === activeTag ? '' : t)}
          >
            {t}
          </button>
          <button
            type="button"
            className="tag-remove"
            aria-label={`remove tag ${t} from run ${runId}`}
            onClick={() => onChange(tags.filter((x) => x !== t))}
          >
            ×
          </button>
        </span>
      ))}
      {draft === null ? (
        <button
          type="button"
          className="tag-add"
          aria-label={`add tags to run ${runId}`}
          data-testid={`add-tag-${runId}`}
          onClick={() => setDraft('')}
        >
          +
        </button>
      ) : (
        <input
          className="cell-input tag-input"
          autoFocus
          placeholder="tag, tag…"
          aria-label={`new tags for run ${runId}`}
          data-testid={`add-tag-${runId}-input`}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={onKey}
          onBlur={add}
        />
      )}
    </span>
  );
}
