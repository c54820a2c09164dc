/**
 * The inspector's form shows `configIssues` next to the fields, and its problem list shows the
 * shared validator's messages: both must carry the unknown-key suggestion.
 */
import { describe, expect, it } from 'vitest';
import { configIssues } from '../../src/renderer/src/lib/config-issues.ts';
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
