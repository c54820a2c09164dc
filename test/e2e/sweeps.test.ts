/**
 * Browser end-to-end test of sweeps in web mode: one run records node timings, then the
 * inspector's "Sweep…" on a field opens the sweep dialog, which shows three runs and an estimate;
 * the sweep runs as a group, appears in the Runs tab, and opens in the comparison view with its
 * runs: the config diff names the swept field, the metrics table has three rows with the std over
 * tasks, the parallel coordinates draw a line per run, and the CSV download parses. The engine is
 * the comparison test's fixture (finishes at once, accuracy follows `tasks.k`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHOTS } from '../helpers/e2e-build.ts';
import { hasChromium, poll, useStudio } from '../helpers/e2e-studio.ts';

describe.skipIf(!hasChromium)('sweeps in the browser (web mode)', () => {
  const studio = useStudio({
    label: 'sweep',
    engine: new URL('./fixtures/compare-engine.ts', import.meta.url),
  });

  it('runs a 3-point sweep from the inspector and compares its runs', async () => {
    const { api, server, page, pageErrors } = studio;
    await page.goto(server.url);
    await page.getByTestId('example-toy').click();
    const done = page.locator('[data-testid^="run-"] .badge', { hasText: 'done' });

    // One plain run, so the sweep has recorded timings to estimate from.
    await poll(() => page.getByTestId('run').isEnabled()).toBe(true);
    await page.getByTestId('run').click();
    await poll(() => done.count(), { timeout: 60_000 }).toBe(1);

    // The inspector's Sweep… on the Tasks node's k field opens the dialog on tasks.k.
    await page.getByTestId('node-tasks').click();
    await page.getByTestId('sweep-field-k').hover();
    await page.getByTestId('inspector').screenshot({ path: join(SHOTS, 'sweep-inspector.png') });
    await page.getByTestId('sweep-field-k').click();
    const dialog = page.getByTestId('sweep-dialog');
    await dialog.waitFor();
    expect(await dialog.getByTestId('sweep-path').inputValue()).toBe('tasks.k');

    // A value the spec refuses is named with the field and the value.
    await dialog.getByTestId('sweep-values').fill('3,1');
    await poll(() => dialog.getByTestId('sweep-error').textContent()).toMatch(
      /tasks\.k: .*\(value 1\)/,
    );
    expect(await dialog.getByTestId('sweep-start').isDisabled()).toBe(true);

    await dialog.getByTestId('sweep-values').fill('3,5,7');
    await poll(() => dialog.getByTestId('sweep-summary').textContent()).toBe(
      '3 runs · estimate < 1 min',
    );
    expect(await dialog.locator('[data-testid="sweep-points"] tbody tr').count()).toBe(3);
    await dialog.screenshot({ path: join(SHOTS, 'sweep-dialog.png') });
    await dialog.getByTestId('sweep-start').click();
    await poll(() => dialog.count()).toBe(0);

    // The group in the Runs tab: done, 3 of 3 points; 4 runs in all.
    await page.getByTestId('tab-runs').click();
    const sweeps = await api.handlers['sweeps.list']({});
    expect(sweeps).toHaveLength(1);
    const row = page.getByTestId(`sweep-${sweeps[0].id}`);
    await poll(() => row.getAttribute('data-status')).toBe('done');
    expect(await row.getByTestId('sweep-progress').textContent()).toBe('3/3');
    await poll(() => done.count(), { timeout: 60_000 }).toBe(4);

    await row.getByTestId('sweep-compare').click();
    await page.getByTestId('compare-view').waitFor();

    // The diff names the swept field and nothing else: k = 3 (baseline), 5, 7.
    const diff = page.getByTestId('compare-diff-row');
    await poll(() => diff.count()).toBe(1);
    expect(await diff.getAttribute('data-field')).toBe('tasks.k');
    expect(await diff.locator('td').allTextContents()).toEqual([
      'tasks.generate tasks',
      'k',
      '3',
      '5',
      '7',
    ]);

    // Three metrics rows, each mean ± std over tasks.
    const rows = page.getByTestId('compare-metrics-row');
    await poll(() => rows.count()).toBe(3);
    for (let i = 0; i < 3; i++) {
      expect(await rows.nth(i).locator('td').nth(2).textContent()).toBe(String(3 + 2 * i));
      expect(await rows.nth(i).locator('td').nth(3).textContent()).toMatch(/^\d+\.\d ± 6\.0$/);
    }

    // Parallel coordinates: a line per run.
    const plot = page.getByTestId('compare-parcoords');
    await poll(() => plot.locator('svg polyline').count()).toBe(3);
    expect((await plot.locator('svg .pc-label').allTextContents())[0]).toBe('tasks.k');

    // The CSV parses back to a line per run with the swept field and the metrics.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('compare-csv').click(),
    ]);
    const lines = readFileSync(await download.path(), 'utf8')
      .trimEnd()
      .split('\r\n');
    expect(lines).toHaveLength(4);
    const head = lines[0].split(',');
    const k = head.indexOf('tasks.k');
    const mean = head.indexOf('seen/d2nwg@5 mean');
    const std = head.indexOf('seen/d2nwg@5 std');
    expect(k).toBeGreaterThan(0);
    const body = lines.slice(1).map((l) => l.split(','));
    expect(body.map((r) => r[k])).toEqual(['3', '5', '7']);
    // Means follow k (0.01 per unit); the std over tasks is the recorded one.
    expect(Number(body[2][mean]) - Number(body[0][mean])).toBeCloseTo(0.04, 6);
    for (const r of body) expect(Number(r[std])).toBeCloseTo(0.06, 9);

    await page.addStyleTag({ content: '.app { grid-template-rows: 44px 1fr 780px; }' });
    await page.getByTestId('compare-view').screenshot({ path: join(SHOTS, 'sweep-compare.png') });
    await page.addStyleTag({ content: '.app { grid-template-rows: 44px 1fr 320px; }' });
    await page.getByTestId('tab-runs').click();
    await page.locator('section.bottom').screenshot({ path: join(SHOTS, 'sweep-runs.png') });
    expect(pageErrors).toEqual([]);
  });
});
