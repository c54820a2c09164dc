/**
 * The inspector's form shows `configIssues` next to the fields, and its problem list shows the
 * shared validator's messages: both must carry the unknown-key suggestion.
 */
import { describe, expect, it } from 'vitest';
import {
  configIssues,
  configTextProblems,
  jsonLocations,
  openSchema,
} from '../../src/renderer/src/lib/config-issues.ts';
import { registry } from '../../src/shared/nodes/registry.ts';
import { validatePipeline } from '../../src/shared/nodes/validate.ts';

describe('inspector config issues', () => {
  it('put a misspelt key on the object that holds it, with the key meant', () => {
    expect(configIssues('model.encoder', { epoch: 4 })).toEqual(
      new Map([['', '`epoch`: unknown key; did you mean `epochs`?']]),
    );
    expect(configIssues('zoo.build', { train: { keepLst: 2 } })).toEqual(
      new Map([['train', '`keepLst`: unknown key; did you mean `keepLast`?']]),
    );
    expect(configIssues('model.encoder', { epochs: 4 })).toEqual(new Map());
  });

  it('reach the canvas problem list through the shared validator', () => {
    // The canvas lists validatePipeline's messages per node (graph.ts `validate`).
    const v = validatePipeline(
      {
        format: 'd2nwg-pipeline',
        version: 1,
        name: 'p',
        nodes: [
          {
            id: 'data',
            type: 'dataset.source',
            version: 1,
            config: { source: { kind: 'fashion-mnist', varient: 'full' } },
            position: { x: 0, y: 0 },
          },
        ],
        edges: [],
      },
      registry,
    );
    expect(v.ok).toBe(false);
    expect(v.problems.map((p) => p.message)).toEqual([
      'config.source: `varient`: unknown key; did you mean `variant`?',
    ]);
  });
});

describe('config problems in the JSON editor', () => {
  /** Each problem with the text it covers. */
  const marked = (type: string, text: string) =>
    configTextProblems(type, text).map((p) => [p.message, text.slice(p.start, p.end)]);

  it('marks a misspelt key on the key itself, with the key meant', () => {
    const text = '{\n  "hidden": [128],\n  "epoch": 4\n}';
    expect(marked('model.vae', text)).toEqual([
      ['`epoch`: unknown key; did you mean `epochs`?', '"epoch"'],
    ]);
  });

  it('marks each of several unknown keys, nested ones too, and bad values on the field', () => {
    const text = '{"train": {"keepLst": 2, "epocs": 3, "zzzzzzzzzz": 1}}';
    const m = marked('zoo.build', text);
    expect(m).toContainEqual(['`keepLst`: unknown key; did you mean `keepLast`?', '"keepLst"']);
    expect(m).toContainEqual(['`epocs`: unknown key; did you mean `epochs`?', '"epocs"']);
    expect(m.find(([, at]) => at === '"zzzzzzzzzz"')?.[0]).toMatch(
      /^`zzzzzzzzzz`: unknown key; known keys: /,
    );
    const bad = marked('tasks.generate', '{"k": 1}');
    expect(bad).toHaveLength(1);
    expect(bad[0][0]).toMatch(/^k: /);
    expect(bad[0][1]).toBe('"k"');
  });

  it('gives nothing for a valid config, text that does not parse, or an unknown type', () => {
    expect(configTextProblems('model.vae', '{"epochs": 4}')).toEqual([]);
    expect(configTextProblems('model.vae', '{"epoch": ')).toEqual([]);
    expect(configTextProblems('no.such', '{"epoch": 4}')).toEqual([]);
  });

  it('locates keys and array elements by path, escapes and all', () => {
    const text = '{"a": [1, {"b\\"c": true}], "d": {}}';
    const at = jsonLocations(text);
    const show = (path: string) => {
      const loc = at.get(path);
      return loc ? text.slice(loc.start, loc.end) : undefined;
    };
    expect(show('a')).toBe('"a"');
    expect(show('a[0]')).toBe('1');
    expect(show('a[1]')).toBe('{"b\\"c": true}');
    expect(show('a[1].b"c')).toBe('"b\\"c"');
    expect(show('d')).toBe('"d"');
    expect(show('')).toBe(text);
  });

  it('leaves closed objects open in the schema the editor gets, and nothing else', () => {
    const schema = {
      type: 'object',
      additionalProperties: false,
      properties: { a: { type: 'object', additionalProperties: false }, b: { type: 'number' } },
      anyOf: [{ additionalProperties: { type: 'string' } }],
    };
    expect(openSchema(schema)).toEqual({
      type: 'object',
      properties: { a: { type: 'object' }, b: { type: 'number' } },
      anyOf: [{ additionalProperties: { type: 'string' } }],
    });
  });
});
