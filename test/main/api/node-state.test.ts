// The one conversion between a stored node row and what the UI shows.
import { describe, expect, it } from 'vitest';
import { nodeState } from '../../../src/main/api/store-adapter.ts';
import { NODE_RUN_STATUSES, NODE_STATES } from '../../../src/shared/runs.ts';

describe('nodeState', () => {
  it('maps every stored node status to a state the UI knows', () => {
    const shown = NODE_RUN_STATUSES.map((status) => nodeState({ status, cached: false }));
    expect(shown).toEqual(['queued', 'running', 'done', 'error', 'skipped', 'skipped', 'skipped']);
    for (const s of shown) expect(NODE_STATES).toContain(s);
  });

  it('shows a cache hit as cached whatever its stored status', () => {
    expect(nodeState({ status: 'done', cached: true })).toBe('cached');
  });
});
