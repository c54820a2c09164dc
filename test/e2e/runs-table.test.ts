/**
 * Browser end-to-end test of the runs table in web mode: three runs of one pipeline with the
 * tasks node's k changed, then in the table a run renamed, runs tagged and annotated, the table
 * filtered by tag, config and metric columns picked, sorted by them, and a baseline pinned for
 * the comparison; after a reload all of it is still there. Each edit is checked in the store
 * through the API, not only on screen. The engine is the comparison test's fixture: it finishes
 * at once and records accuracy that follows k.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHOTS } from '../helpers/e2e-build.ts';
import { hasChromium, poll, useStudio } from '../helpers/e2e-studio.ts';

describe.skipIf(!hasChromium)('runs table in the browser (web mode)', () => {
  const studio = useStudio({
    label: 'runs',
    engine: new URL('./fixtures/compare-engine.ts', import.meta.url),
  });

  /** Run ids in the order the table shows them. */
  const rowIds = () =>
    studio.page
      .locator('tbody tr[data-testid^="run-run_"]')
      .evaluateAll((trs) => trs.map((tr) => (tr.getAttribute('data-testid') ?? '').slice(4)));
  const stored = async (runId: string) => {
    const list = await studio.api.handlers['runs.list']({});
    const run = list.find((r) => r.id === runId);
    if (!run) throw new Error(`run ${runId} not listed`);
    return run;
  };

  it('renames, tags, filters by tag, sorts by picked columns and pins a baseline', async () => {
    const { api, server, page, pageErrors } = studio;
    await page.goto(server.url);
    await page.getByTestId('example-toy').click();
    const done = page.locator('[data-testid^="run-"] .badge', { hasText: 'done' });
    const spec = (await api.handlers['specs.list']({})).find((s) => s.type === 'tasks.generate');
    const kDefault = Number((spec?.defaults as { k?: unknown } | undefined)?.k);
    expect(Number.isInteger(kDefault)).toBe(true);
    const ks = [kDefault, kDefault + 4, kDefault + 2];

    // Three runs: k at its default, then default + 4, then default + 2.
    for (const [i, k] of ks.entries()) {
      if (i > 0) {
        await page.getByTestId('node-tasks').click();
        await page.locator('[data-field="k"] input').fill(String(k));
      }
      await poll(() => page.getByTestId('run').isEnabled()).toBe(true);
      await page.getByTestId('run').click();
      await poll(() => done.count(), { timeout: 60_000 }).toBe(i + 1);
    }
    await page.getByTestId('tab-runs').click();
    await poll(() => rowIds().then((ids) => ids.length)).toBe(3);
    // Newest first: k = default + 2, default + 4, default.
    const [third, second, first] = await rowIds();
    expect((await stored(first)).name).toBe('Toy example');

    // Rename the first run in place; the store has the new name.
    await page.getByTestId(`name-${first}`).click();
    await page.getByTestId(`name-${first}-input`).fill('k default (reference)');
    await page.getByTestId(`name-${first}-input`).press('Enter');
    await poll(() => page.getByTestId(`name-${first}`).textContent()).toBe('k default (reference)');
    await poll(async () => (await stored(first)).name).toBe('k default (reference)');

    // Tag two runs (one with two tags at once) and note one.
    await page.getByTestId(`add-tag-${first}`).click();
    await page.getByTestId(`add-tag-${first}-input`).fill('keep');
    await page.getByTestId(`add-tag-${first}-input`).press('Enter');
    await page.getByTestId(`add-tag-${third}`).click();
    await page.getByTestId(`add-tag-${third}-input`).fill('keep, small-k');
    await page.getByTestId(`add-tag-${third}-input`).press('Enter');
    await poll(async () => (await stored(third)).tags).toEqual(['keep', 'small-k']);
    expect((await stored(first)).tags).toEqual(['keep']);
    await page.getByTestId(`notes-${second}`).click();
    await page.getByTestId(`notes-${second}-input`).fill('k too large: slower, no better');
    await page.getByTestId(`notes-${second}-input`).press('Enter');
    await poll(async () => (await stored(second)).notes).toBe('k too large: slower, no better');

    // A bad tag is refused with the reason, and nothing changes.
    await page.getByTestId(`add-tag-${second}`).click();
    await page.getByTestId(`add-tag-${second}-input`).fill('bad!tag');
    await page.getByTestId(`add-tag-${second}-input`).press('Enter');
    await poll(() => page.getByTestId('toast').textContent()).toMatch(
      /tags\[0\]: a tag may only hold letters, digits and _ - \. : \/ \+/,
    );
    expect((await stored(second)).tags).toEqual([]);

    // Filter by tag: the two tagged runs.
    await page.getByTestId('runs-tag').selectOption('keep');
    await poll(() => rowIds()).toEqual([third, first]);
    expect(await page.getByTestId('runs-count').textContent()).toBe('2 of 3 runs · 0 selected');
    await page.getByTestId('runs-tag').selectOption('');
    await poll(() => rowIds().then((ids) => ids.length)).toBe(3);

    // Pick tasks.k and the seen/d2nwg accuracy as columns.
    await page.getByTestId('runs-columns').click();
    await page.getByTestId('runs-picker').getByLabel('filter config fields').fill('tasks.k');
    await page.getByTestId('pick-field-tasks.k').check();
    await page.getByTestId('pick-metric-seen/d2nwg').check();
    await page.getByTestId('pick-metric-unseen-class/d2nwg').check();
    await page.getByTestId('runs-picker').getByRole('button', { name: 'Done' }).click();
    const kCell = (id: string) =>
      page.getByTestId(`run-${id}`).locator('td[data-col="field:tasks.k"]').textContent();
    await poll(() => kCell(second)).toBe(String(kDefault + 4));
    expect(await kCell(first)).toBe(String(kDefault));

    // Sort by k, ascending then descending; then by accuracy, which follows k.
    await page.getByTestId('sort-field:tasks.k').click();
    await poll(() => rowIds()).toEqual([first, third, second]);
    await page.getByTestId('sort-field:tasks.k').click();
    await poll(() => rowIds()).toEqual([second, third, first]);
    await page.getByTestId('sort-metric:seen/d2nwg').click();
    await poll(() => rowIds()).toEqual([first, third, second]);
    const acc = await page
      .getByTestId(`run-${second}`)
      .locator('td[data-col="metric:seen/d2nwg"]')
      .textContent();
    expect(acc).toMatch(/^\d+\.\d ± \d+\.\d$/);

    // Sort by name: the renamed run sorts by its new name.
    await page.getByTestId('sort-name').click();
    expect((await rowIds())[0]).toBe(first);

    // Pin the first run as the baseline, tick another and compare: the diff is against it.
    await page.getByTestId(`pin-${first}`).click();
    await page.getByLabel(`select run ${second}`).check();
    await page.getByTestId('compare').click();
    await page.getByTestId('compare-view').waitFor();
    await poll(() => page.getByTestId('compare-baseline').inputValue()).toBe(first);
    await poll(() => page.getByTestId('compare-metrics-row').count()).toBe(2);
    const diff = page.getByTestId('compare-diff-row');
    expect(await diff.getAttribute('data-field')).toBe('tasks.k');

    // Back to the table for the screenshot: every run, the picked columns, sorted by accuracy.
    await page.getByTestId('tab-runs').click();
    await page.getByTestId('sort-metric:seen/d2nwg').click();
    await page.getByTestId('sort-metric:seen/d2nwg').click();
    await page.addStyleTag({ content: '.app { grid-template-rows: 44px 1fr 380px; }' });
    await page.getByTestId('runs').screenshot({ path: join(SHOTS, 'runs-table.png') });

    // After a reload: names, tags and notes come from the store, the columns and sort from the
    // page's storage.
    await page.reload();
    await page.getByTestId('tab-runs').click();
    await poll(() => page.getByTestId(`name-${first}`).textContent()).toBe('k default (reference)');
    expect(await page.getByTestId(`tag-${third}-small-k`).textContent()).toBe('small-k');
    expect(await page.getByTestId(`notes-${second}`).textContent()).toBe(
      'k too large: slower, no better',
    );
    await poll(() => kCell(second)).toBe(String(kDefault + 4));
    expect(
      await page.getByTestId('sort-metric:seen/d2nwg').locator('..').getAttribute('aria-sort'),
    ).toBe('descending');
    expect(await rowIds()).toEqual([second, third, first]);
    expect(pageErrors).toEqual([]);
  });
});
