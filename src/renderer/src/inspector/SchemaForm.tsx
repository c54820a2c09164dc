/**
 * A form generated from a node config's JSON Schema (zod's toJSONSchema, input side). It covers
 * what node configs use: objects, numbers with bounds, strings, booleans, enums, arrays of
 * scalars, a keyword or a number (`"auto"` or 2), and discriminated unions (a `kind` select
 * switching the variant's fields). Anything else falls back to a JSON field. Invalid values are
 * kept as typed and marked, never dropped.
 */
import { createContext, useContext, useState, type ReactNode } from 'react';

/** The subset of JSON Schema the form reads. */
export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly items?: JsonSchema;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly oneOf?: readonly JsonSchema[];
  readonly anyOf?: readonly JsonSchema[];
  readonly default?: unknown;
  readonly description?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly title?: string;
}

/**
 * A "Sweep…" action offered on each field, called with the field's dotted path inside the
 * config (the inspector provides it; without a provider no action shows).
 */
export const FieldSweepContext = createContext<((path: string) => void) | null>(null);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeOf(s: JsonSchema): string | undefined {
  if (Array.isArray(s.type)) return s.type.find((t) => t !== 'null');
  return s.type as string | undefined;
}

/** Defaults of a schema's properties, for a freshly chosen union variant. */
function defaultsOf(s: JsonSchema): unknown {
  if (s.default !== undefined) return structuredClone(s.default);
  if (s.const !== undefined) return s.const;
  if (s.properties) {
    const out: Obj = {};
    for (const [k, p] of Object.entries(s.properties)) {
      const d = defaultsOf(p);
      if (d !== undefined) out[k] = d;
    }
    return out;
  }
  return undefined;
}

/** The discriminator of a union of objects: a property that is `const` in every variant. */
function discriminator(variants: readonly JsonSchema[]): string | null {
  const first = variants[0]?.properties;
  if (!first) return null;
  for (const key of Object.keys(first)) {
    if (variants.every((v) => v.properties?.[key]?.const !== undefined)) return key;
  }
  return null;
}

const label = (name: string) =>
  name.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase());

interface FieldProps {
  readonly name: string;
  readonly path: string;
  readonly schema: JsonSchema;
  readonly value: unknown;
  readonly onChange: (v: unknown) => void;
  readonly issues: ReadonlyMap<string, string>;
}

/** A number/text input that keeps what the user typed while it is not (yet) valid. */
function TextInput(props: {
  readonly id: string;
  readonly value: unknown;
  readonly numeric: boolean;
  readonly integer: boolean;
  readonly schema: JsonSchema;
  readonly onChange: (v: unknown) => void;
  readonly invalid: boolean;
  readonly title?: string;
}) {
  const shown = props.value === undefined ? '' : String(props.value);
  // What the user typed, kept while it does not (yet) parse; dropped when the value changes
  // from elsewhere (the JSON editor, undo), adjusting state during render as React recommends.
  const [draft, setDraft] = useState<string | null>(null);
  const [seen, setSeen] = useState(props.value);
  if (seen !== props.value) {
    setSeen(props.value);
    if (draft !== null && !(props.numeric && Number(draft) === props.value)) setDraft(null);
  }
  const text = draft ?? shown;
  return (
    <input
      id={props.id}
      className={props.invalid ? 'invalid' : undefined}
      type="text"
      title={props.title}
      inputMode={props.numeric && !props.title ? 'decimal' : undefined}
      value={text}
      placeholder={props.schema.default !== undefined ? String(props.schema.default) : undefined}
      onChange={(e) => {
        const t = e.target.value;
        setDraft(t);
        if (!props.numeric) props.onChange(t);
        else {
          const n = Number(t);
          props.onChange(t.trim() === '' || !Number.isFinite(n) ? t : n);
        }
      }}
    />
  );
}

function Field({ name, path, schema, value, onChange, issues }: FieldProps) {
  const id = `f-${path}`;
  const issue = issues.get(path);
  const hint = schema.description;
  const sweep = useContext(FieldSweepContext);
  const wrap = (control: ReactNode, wide = false) => (
    <div className={`field${wide ? ' wide' : ''}${issue ? ' has-issue' : ''}`} data-field={path}>
      <label htmlFor={id} title={hint}>
        {label(name)}
        {sweep && (
          <button
            type="button"
            className="field-sweep"
            title={`Sweep… ${path} over several values`}
            aria-label={`Sweep ${path}…`}
            onClick={() => sweep(path)}
            data-testid={`sweep-field-${path}`}
          >
            ⋯
          </button>
        )}
      </label>
      {control}
      {issue && <div className="issue">{issue}</div>}
      {!issue && hint && <div className="hint">{hint}</div>}
    </div>
  );

  const variants = schema.oneOf ?? schema.anyOf;
  if (variants) {
    const nonNull = variants.filter((v) => typeOf(v) !== 'null');
    if (nonNull.length === 1) {
      return <Field {...{ name, path, schema: nonNull[0], value, onChange, issues }} />;
    }
    // A keyword or a number (e.g. shards: "auto" | 1…8): one text box; what parses as a number
    // is sent as one, anything else as typed (validation marks a wrong keyword).
    const keywords = nonNull.flatMap((v) => (typeof v.const === 'string' ? [v.const] : []));
    const numeric = nonNull.find((v) => ['number', 'integer'].includes(typeOf(v) ?? ''));
    if (numeric && keywords.length > 0 && keywords.length + 1 === nonNull.length) {
      return wrap(
        <TextInput
          id={id}
          value={value}
          numeric
          integer={typeOf(numeric) === 'integer'}
          schema={{ ...numeric, default: schema.default }}
          title={`${keywords.join(', ')} or a number`}
          onChange={onChange}
          invalid={issue !== undefined}
        />,
      );
    }
    const key = discriminator(nonNull);
    if (key && isObj(value)) {
      const current = nonNull.find((v) => v.properties?.[key]?.const === value[key]) ?? nonNull[0];
      return (
        <fieldset className={`group${issue ? ' has-issue' : ''}`} data-field={path}>
          <legend>{label(name)}</legend>
          <div className="field">
            <label htmlFor={`${id}.${key}`}>{label(key)}</label>
            <select
              id={`${id}.${key}`}
              value={String(value[key])}
              onChange={(e) => {
                const v = nonNull.find(
                  (x) => String(x.properties?.[key]?.const) === e.target.value,
                );
                if (v) onChange(defaultsOf(v));
              }}
            >
              {nonNull.map((v) => (
                <option key={String(v.properties?.[key]?.const)}>
                  {String(v.properties?.[key]?.const)}
                </option>
              ))}
            </select>
          </div>
          {Object.entries(current.properties ?? {})
            .filter(([k]) => k !== key)
            .map(([k, s]) => (
              <Field
                key={k}
                name={k}
                path={`${path}.${k}`}
                schema={s}
                value={value[k]}
                onChange={(v) => onChange({ ...value, [k]: v })}
                issues={issues}
              />
            ))}
          {issue && <div className="issue">{issue}</div>}
        </fieldset>
      );
    }
    return <JsonField {...{ name, path, schema, value, onChange, issues }} />;
  }

  if (schema.enum) {
    return wrap(
      <select
        id={id}
        value={String(value ?? '')}
        onChange={(e) => {
          const v = schema.enum?.find((x) => String(x) === e.target.value);
          onChange(v);
        }}
      >
        {schema.enum.map((o) => (
          <option key={String(o)}>{String(o)}</option>
        ))}
      </select>,
    );
  }
  if (schema.const !== undefined)
    return wrap(<input id={id} value={String(schema.const)} readOnly />);

  const t = typeOf(schema);
  if (t === 'object' && schema.properties) {
    const obj = isObj(value) ? value : {};
    return (
      <fieldset className={`group${issue ? ' has-issue' : ''}`} data-field={path}>
        <legend title={hint}>{label(name)}</legend>
        {Object.entries(schema.properties).map(([k, s]) => (
          <Field
            key={k}
            name={k}
            path={path ? `${path}.${k}` : k}
            schema={s}
            value={obj[k]}
            onChange={(v) => onChange({ ...obj, [k]: v })}
            issues={issues}
          />
        ))}
        {issue && <div className="issue">{issue}</div>}
      </fieldset>
    );
  }
  if (t === 'boolean') {
    return wrap(
      <input
        id={id}
        type="checkbox"
        checked={value === true}
        onChange={(e) => onChange(e.target.checked)}
      />,
    );
  }
  if (t === 'number' || t === 'integer' || t === 'string') {
    return wrap(
      <TextInput
        id={id}
        value={value}
        numeric={t !== 'string'}
        integer={t === 'integer'}
        schema={schema}
        onChange={onChange}
        invalid={issue !== undefined}
      />,
    );
  }
  if (
    t === 'array' &&
    schema.items &&
    ['number', 'integer', 'string'].includes(typeOf(schema.items) ?? '')
  ) {
    const numeric = typeOf(schema.items) !== 'string';
    const text = Array.isArray(value) ? value.join(', ') : '';
    return wrap(
      <ArrayInput
        id={id}
        text={text}
        numeric={numeric}
        onChange={onChange}
        invalid={issue !== undefined}
      />,
    );
  }
  return <JsonField {...{ name, path, schema, value, onChange, issues }} />;
}

function ArrayInput(props: {
  readonly id: string;
  readonly text: string;
  readonly numeric: boolean;
  readonly onChange: (v: unknown) => void;
  readonly invalid: boolean;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  const [seen, setSeen] = useState(props.text);
  if (seen !== props.text) {
    setSeen(props.text);
    if (draft !== null && draft.replace(/\s/g, '') !== props.text.replace(/\s/g, ''))
      setDraft(null);
  }
  const text = draft ?? props.text;
  return (
    <input
      id={props.id}
      className={props.invalid ? 'invalid' : undefined}
      value={text}
      placeholder="comma-separated"
      onChange={(e) => {
        setDraft(e.target.value);
        const parts = e.target.value
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        props.onChange(
          props.numeric ? parts.map((p) => (Number.isFinite(Number(p)) ? Number(p) : p)) : parts,
        );
      }}
    />
  );
}

function JsonField({ name, path, value, onChange, issues }: FieldProps) {
  const [text, setText] = useState(JSON.stringify(value ?? null));
  const [bad, setBad] = useState(false);
  const issue = issues.get(path);
  return (
    <div className={`field wide${issue || bad ? ' has-issue' : ''}`} data-field={path}>
      <label htmlFor={`f-${path}`}>{label(name)} (JSON)</label>
      <textarea
        id={`f-${path}`}
        rows={2}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          try {
            onChange(JSON.parse(e.target.value));
            setBad(false);
          } catch {
            setBad(true);
          }
        }}
      />
      {(issue || bad) && <div className="issue">{bad ? 'not valid JSON' : issue}</div>}
    </div>
  );
}

export interface SchemaFormProps {
  readonly schema: JsonSchema;
  readonly value: unknown;
  readonly onChange: (v: unknown) => void;
  /** zod issues by dotted path. */
  readonly issues: ReadonlyMap<string, string>;
}

/** The whole config form. */
export function SchemaForm({ schema, value, onChange, issues }: SchemaFormProps) {
  const obj = isObj(value) ? value : {};
  const props = schema.properties ?? {};
  if (Object.keys(props).length === 0) return <p className="muted">This node has no settings.</p>;
  return (
    <form className="schema-form" onSubmit={(e) => e.preventDefault()} data-testid="config-form">
      {Object.entries(props).map(([k, s]) => (
        <Field
          key={k}
          name={k}
          path={k}
          schema={s}
          value={obj[k]}
          onChange={(v) => onChange({ ...obj, [k]: v })}
          issues={issues}
        />
      ))}
      {issues.get('') && <div className="issue">{issues.get('')}</div>}
    </form>
  );
}
