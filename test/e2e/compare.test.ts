/**
 * Browser end-to-end test of the comparison view in web mode: a pipeline run twice with one
 * config field changed, both runs compared; the config diff names the field, the metrics table
 * has a row per run, the parallel coordinates draw, and the CSV download parses. The engine is
 * a fixture that finishes at once and records accuracy that follows the changed field.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHOTS } from '../helpers/e2e-build.ts';
import { hasChromium, poll, useStudio } from '../helpers/e2e-studio.ts';

describe.skipIf(!hasChromium)('comparison view in the browser (web mode)', () => {
  const studio = useStudio({
    label: 'compare',
    engine: new URL('./fixtures/compare-engine.ts', import.meta.url),
  });

  it('compares two runs that differ in one field: diff, metrics rows, parcoords, CSV', async () => {
    const { api, server, page, pageErrors } = studio;
    await page.goto(server.url);
    await page.getByTestId('example-toy').click();
    const done = page.locator('[data-testid^="run-"] .badge', { hasText: 'done' });

    // Run 1 with the defaults; run 2 with tasks.k = 7.
    await poll(() => page.getByTestId('run').isEnabled()).toBe(true);
    await page.getByTestId('run').click();
    await poll(() => done.count(), { timeout: 60_000 }).toBe(1);
    await page.getByTestId('node-tasks').click();
    const k = page.locator('[data-field="k"] input');
    // The example stores `{}`: the first run's k is the spec's default.
    const spec = (await api.handlers['specs.list']({})).find((s) => s.type === 'tasks.generate');
    const before = String((spec?.defaults as { k?: unknown } | undefined)?.k);
    expect(before).toMatch(/^\d+$/);
    expect(before).not.toBe('7');
    await k.fill('7');
    await poll(() => page.getByTestId('run').isEnabled()).toBe(true);
    await page.getByTestId('run').click();
    await poll(() => done.count(), { timeout: 60_000 }).toBe(2);

    await page.getByTestId('tab-runs').click();
    const boxes = page.locator('[data-testid^="run-"] input[type=checkbox]');
    // The older run first, so it is the baseline.
    await boxes.nth(1).check();
    await boxes.nth(0).check();
    await page.getByTestId('compare').click();
    await page.getByTestId('compare-view').waitFor();

    // The diff names the changed field and nothing else (same seed and backend).
    const diff = page.getByTestId('compare-diff-row');
    await poll(() => diff.count()).toBe(1);
    expect(await diff.getAttribute('data-field')).toBe('tasks.k');
    expect(await diff.locator('td').allTextContents()).toEqual([
      'tasks.generate tasks',
      'k',
      before,
      '7',
    ]);

    // One metrics row per run, mean ± std over tasks.
    const rows = page.getByTestId('compare-metrics-row');
    await poll(() => rows.count()).toBe(2);
    expect(await rows.nth(1).locator('td').nth(2).textContent()).toBe('7');
    expect(await rows.nth(1).locator('td').nth(3).textContent()).toMatch(/^\d+\.\d ± 6\.0$/);

    // Parallel coordinates: an SVG with an axis per differing field and metric, a line per run.
    const plot = page.getByTestId('compare-parcoords');
    await poll(() => plot.locator('svg polyline').count()).toBe(2);
    const labels = await plot.locator('svg .pc-label').allTextContents();
    expect(labels.slice(0, 2)).toEqual(['tasks.k', 'seen/d2nwg @5 (%)']);
    // Brushing the top of the k axis keeps the k = 7 run only.
    await plot.scrollIntoViewIfNeeded();
    const grip = await page.getByTestId('compare-parcoords-axis-0').boundingBox();
    if (!grip) throw new Error('parallel-coordinates axis not visible');
    const cx = grip.x + grip.width / 2;
    await page.mouse.move(cx, grip.y + 2);
    await page.mouse.down();
    await page.mouse.move(cx, grip.y + grip.height * 0.3, { steps: 5 });
    await page.mouse.up();
    await poll(() => page.getByTestId('compare-parcoords-count').textContent()).toMatch(
      /^1 of 2 runs in the brush/,
    );
    expect(await plot.locator('polyline:not(.pc-out)').getAttribute('data-run')).toBe(
      await rows.nth(1).getAttribute('data-run'),
    );

    // The CSV download parses back to one line per run with the field and the metrics.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('compare-csv').click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^comparison-.*\.csv$/);
    const file = await download.path();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\r\n');
    const head = lines[0].split(',');
    expect(head.slice(0, 6)).toEqual(['row', 'label', 'runs', 'seeds', 'backend', 'tasks.k']);
    expect(lines).toHaveLength(3);
    const body = lines.slice(1).map((l) => l.split(','));
    expect(body.map((r) => r[5])).toEqual([before, '7']);
    const mean = head.indexOf('seen/d2nwg@5 mean');
    const std = head.indexOf('seen/d2nwg@5 std');
    expect(mean).toBeGreaterThan(5);
    // Means follow k (0.01 per unit); the std over tasks is the recorded one.
    const delta = Number(body[1][mean]) - Number(body[0][mean]);
    expect(delta).toBeCloseTo(0.01 * (7 - Number(before)), 6);
    for (const r of body) expect(Number(r[std])).toBeCloseTo(0.06, 9);

    // The bottom panel is 320 px tall: make room to show the whole view in the screenshot.
    await page.addStyleTag({ content: '.app { grid-template-rows: 44px 1fr 780px; }' });
    await page.getByTestId('compare-view').screenshot({ path: join(SHOTS, 'compare.png') });
    expect(pageErrors).toEqual([]);
  });
});
