/**
 * Browser end-to-end tests of the studio in web mode: an in-process `serve` (real API, SQLite
 * store, engine host worker; the engine itself is the e2e fixture so runs are quick and
 * deterministic) driven by playwright-core in Debian's Chromium. Screenshots go to test/artifacts/.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHOTS } from '../helpers/e2e-build.ts';
import { hasChromium, poll, useStudio } from '../helpers/e2e-studio.ts';
import { E2E_LATENTS } from './fixtures/e2e-engine.ts';

describe.skipIf(!hasChromium)('studio in the browser (web mode)', () => {
  /** URLs the tests load on purpose without access. */
  const expectedFailures = new Set<string>();
  const studio = useStudio({
    label: 'studio',
    engine: new URL('./fixtures/e2e-engine.ts', import.meta.url),
    setUp: ({ page, consoleErrors }) => {
      // Failed loads are tracked by URL here; their console echo carries no URL.
      page.on('response', (r) => {
        if (r.status() >= 400 && !expectedFailures.has(r.url())) {
          consoleErrors.push(`${r.status()} ${r.url()}`);
        }
      });
    },
  });

  const { shot } = studio;
  const chartShot = (testId: string, name: string) =>
    studio.page.getByTestId(testId).screenshot({ path: join(SHOTS, `${name}.png`) });
  /**
   * Boxes of a chart's legend and axis titles that intersect (an empty list when none do), read
   * from the SVG Plotly drew.
   */
  const overlaps = (testId: string) =>
    studio.page.evaluate(`(() => {
      const root = document.querySelector('[data-testid="${testId}"]');
      const box = (sel) => [...root.querySelectorAll(sel)].map((e) => [sel, e.getBoundingClientRect()]);
      const legend = box('.legend .bg');
      const titles = [...box('.xtitle'), ...box('.ytitle'), ...box('.gtitle')];
      const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
      return legend.flatMap(([, l]) => titles.filter(([, t]) => hit(l, t)).map(([s]) => s));
    })()`);
  /** A Plotly figure's resolved layout value, e.g. 'yaxis.type'. */
  const layoutValue = (testId: string, path: string) =>
    studio.page.evaluate(
      `(() => '${path}'.split('.').reduce((o, k) => o?.[k], document.querySelector('[data-testid="${testId}"] .js-plotly-plot')?._fullLayout))()`,
    );
  const node = (id: string) => studio.page.getByTestId(`node-${id}`);
  /** Drag from an output handle to an input handle. */
  async function connect(from: string, fromPort: string, to: string, toPort: string) {
    const { page } = studio;
    const a = node(from).locator(`.react-flow__handle.source[data-handleid="${fromPort}"]`);
    const b = node(to).locator(`.react-flow__handle.target[data-handleid="${toPort}"]`);
    const ba = await a.boundingBox();
    const bb = await b.boundingBox();
    if (!ba || !bb) throw new Error('handle not visible');
    await page.mouse.move(ba.x + ba.width / 2, ba.y + ba.height / 2);
    await page.mouse.down();
    await page.mouse.move(bb.x + bb.width / 2, bb.y + bb.height / 2, { steps: 8 });
    await page.mouse.up();
  }

  it('serves the built UI only with the token and shows the first-run screen', async () => {
    const { server, page } = studio;
    expectedFailures.add(`http://127.0.0.1:${server.port}/`);
    const denied = await page.goto(`http://127.0.0.1:${server.port}/`);
    expect(denied?.status()).toBe(401);
    const ok = await page.goto(server.url);
    expect(ok?.status()).toBe(200);
    await page.getByTestId('first-run').waitFor();
    await poll(() => page.url()).not.toContain('token=');
    const fcp = await page.evaluate(
      () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1,
    );
    console.log(`e2e: first contentful paint ${fcp.toFixed(0)} ms`);
    expect(fcp).toBeGreaterThan(0);
    await poll(() => page.getByTestId('example-toy').count()).toBe(1);
    await shot('01-first-run');
  });

  it('adds nodes, connects matching ports and refuses a wrong connection', async () => {
    const { page } = studio;
    await page.getByTestId('blank').click();
    await page.getByTestId('palette-dataset.source').click();
    await page.getByTestId('palette-tasks.generate').click();
    await page.getByTestId('palette-model.vae').click();
    await node('source-1').waitFor();
    await node('vae-1').waitFor();
    await page.locator('.react-flow__controls-fitview').click();
    await connect('source-1', 'dataset', 'generate-1', 'dataset');
    await poll(() => page.locator('.react-flow__edge').count()).toBe(1);
    await connect('source-1', 'dataset', 'vae-1', 'zoo');
    await poll(() => page.getByTestId('toast').textContent()).toContain(
      "cannot connect dataset output 'Dataset' to zoo input",
    );
    expect(await page.locator('.react-flow__edge').count()).toBe(1);
    // model.vae lacks its zoo input: the pipeline is invalid and Run is off.
    await poll(() => page.getByTestId('run').isDisabled()).toBe(true);
    await shot('02-canvas-refused');
    await node('vae-1').click();
    await page.keyboard.press('Delete');
    await poll(() => node('vae-1').count()).toBe(0);
    await poll(() => page.getByTestId('run').isEnabled()).toBe(true);
  });

  it('edits the config in Monaco and the form follows; an invalid value disables Run', async () => {
    const { page } = studio;
    await node('generate-1').click();
    const editor = page.getByTestId('monaco');
    await editor.locator('.view-lines').waitFor({ timeout: 30_000 });
    await editor.locator('.view-lines').click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText('{"k": 7, "nTrain": 20}');
    const k = page.locator('[data-field="k"] input');
    await poll(() => k.inputValue()).toBe('7');
    await poll(() => page.locator('[data-field="nTrain"] input').inputValue()).toBe('20');
    await shot('03-monaco-form-sync');

    await k.fill('1');
    await poll(() => page.locator('[data-field="k"] .issue').textContent()).toMatch(
      />=\s*2|at least|too small/i,
    );
    await poll(() => page.getByTestId('run').isDisabled()).toBe(true);
    await poll(() => editor.textContent()).toMatch(/"k":\s*1,/);
    await shot('04-invalid-config');
    await k.fill('3');
    await poll(() => page.getByTestId('run').isEnabled()).toBe(true);
  });

  it('runs the pipeline and shows progress and status on the nodes', async () => {
    const { page } = studio;
    await page.getByTestId('run').click();
    await poll(() => node('source-1').getAttribute('data-status')).toBe('running');
    await node('source-1').locator('.progress').waitFor();
    await shot('05-running');
    await poll(() => node('generate-1').getAttribute('data-status'), { timeout: 20_000 }).toBe(
      'done',
    );
    expect(await node('source-1').getAttribute('data-status')).toBe('done');
    await poll(() => page.locator('[data-testid^="run-"] .badge').first().textContent()).toBe(
      'done',
    );
    await page.getByTestId('tab-charts').click();
    const loss = page.getByTestId('chart-loss');
    await loss.locator('.main-svg').first().waitFor({ timeout: 30_000 });
    // One legend item per curve (no 'live' twin of a stored one), on a log axis by default.
    await poll(() => loss.locator('.legendtext').allTextContents()).toEqual([
      'source-1 · loss',
      'generate-1 · diffusion:loss',
    ]);
    await poll(() => layoutValue('chart-loss', 'yaxis.type')).toBe('log');
    // Epochs and diffusion steps on their own numeric x-axes, side by side.
    expect(await layoutValue('chart-loss', 'xaxis.title.text')).toBe('epoch');
    expect(await layoutValue('chart-loss', 'xaxis2.title.text')).toBe('step');
    expect(await layoutValue('chart-loss', 'xaxis.type')).toBe('linear');
    expect(await layoutValue('chart-loss', 'xaxis2.type')).toBe('linear');
    expect(await layoutValue('chart-loss', 'yaxis2.type')).toBe('log');
    expect(await overlaps('chart-loss')).toEqual([]);
    await shot('06-done-loss');
    await chartShot('chart-loss', '06b-loss-chart');
    await page.getByTestId('loss-log').uncheck();
    await poll(() => layoutValue('chart-loss', 'yaxis.type')).toBe('linear');
    await page.getByTestId('loss-log').check();
  });

  it('compares runs in the accuracy chart', async () => {
    const { page } = studio;
    await page.getByTestId('tab-runs').click();
    await page.locator('[data-testid^="run-"] input[type=checkbox]').first().check();
    await page.getByTestId('compare').click();
    await page.getByTestId('compare-view').waitFor();
    await page.getByTestId('tab-charts').click();
    const chart = page.getByTestId('chart-accuracy');
    await chart.locator('.main-svg').first().waitFor({ timeout: 30_000 });
    await poll(() => chart.locator('.legendtext').allTextContents()).toEqual(['d2nwg', 'randinit']);
    // Error bars: the std over tasks that the run's Compare node recorded (in percent).
    expect(await layoutValue('chart-accuracy', 'title.text')).toContain('(± std over tasks)');
    const errs = await page.evaluate(
      `document.querySelector('[data-testid="chart-accuracy"] .js-plotly-plot').data.map((t) => t.error_y.array.map((v) => Math.round(v * 1000) / 1000))`,
    );
    expect(errs).toEqual([
      [6, 5, 3],
      [2, 8, 6],
    ]);
    expect(await overlaps('chart-accuracy')).toEqual([]);
    // The compared run is also the live one: its loss curves still show once each.
    await poll(() => page.getByTestId('chart-loss').locator('.legendtext').count()).toBe(2);
    await shot('07-compare');
    await chartShot('chart-accuracy', '07b-accuracy-chart');
    await chartShot('chart-finetune', '07c-finetune-chart');
  });

  it('plots the VAE latent map: zoo checkpoints by task, generated samples as crosses', async () => {
    const { page } = studio;
    const { tasks, perTask, sampledTasks, samplesPerTask } = E2E_LATENTS;
    const chart = page.getByTestId('chart-latents');
    await chart.locator('.main-svg').first().waitFor({ timeout: 30_000 });
    // Two legend items (kinds), not one per task.
    await poll(() => chart.locator('.legendtext').allTextContents()).toEqual([
      `zoo checkpoints (${tasks * perTask}, ${tasks} tasks)`,
      `generated samples (${sampledTasks * samplesPerTask}, ${sampledTasks} tasks)`,
    ]);
    const traces = chart.locator('.scatterlayer .trace');
    // Legend proxies draw no point; the zoo and the samples draw one per point.
    const counts = await traces.evaluateAll((els) =>
      els.map((e) => e.querySelectorAll('path.point').length),
    );
    expect(counts.filter((c) => c > 0)).toEqual([tasks * perTask, sampledTasks * samplesPerTask]);
    const zooColours = await traces
      .nth(1)
      .locator('path.point')
      .evaluateAll(
        (els) =>
          new Set(els.map((e) => /fill: ([^;]+)/.exec(e.getAttribute('style') ?? '')?.[1])).size,
      );
    expect(zooColours).toBe(tasks);
    // Samples are crosses, zoo checkpoints dots (Plotly's symbol paths differ).
    const shapes = await traces.evaluateAll((els) =>
      els.map((e) => e.querySelector('path.point')?.getAttribute('d')?.slice(0, 12) ?? ''),
    );
    expect(shapes[1]).not.toBe(shapes[3]);
    await poll(() => layoutValue('chart-latents', 'xaxis.title.text')).toMatch(
      /^PC1 \(\d+% of zoo latent variance\)$/,
    );
    expect(await overlaps('chart-latents')).toEqual([]);
    // The run recorded two maps (zoo only, zoo + samples); the one with samples shows first.
    await poll(() => page.getByTestId('latents-pick').locator('option').count()).toBe(2);
    // A legend of the tasks in their colours, the sampled ones (three seen, one unseen) first.
    const legend = page.getByTestId('latents-legend').locator('li');
    await poll(() => legend.count()).toBe(tasks + 1);
    expect(await legend.nth(sampledTasks - 1).textContent()).toBe(`unseen-0 ×${samplesPerTask}`);
    await chartShot('chart-latents-box', '07d-latents-chart');
    const pick = page.getByTestId('latents-pick');
    const zooOnly = await pick.locator('option', { hasNotText: 'samples' }).getAttribute('value');
    await pick.selectOption(zooOnly ?? '');
    await poll(() => chart.locator('.legendtext').allTextContents()).toEqual([
      `zoo checkpoints (${tasks * perTask}, ${tasks} tasks)`,
    ]);
    await pick.selectOption({ index: 0 });
  });

  it('exports weights with a manifest preview and writes the files', async () => {
    const { page, dataDir } = studio;
    await page.getByTestId('tab-runs').click();
    await page.getByRole('button', { name: 'Export…' }).first().click();
    const dialog = page.getByTestId('export-dialog');
    await dialog.waitFor();
    await poll(() => page.getByTestId('manifest-preview').textContent()).toContain(
      'd2nwg-weights-export',
    );
    await dialog.locator('#exp-folder').fill('exports/e2e');
    await shot('08-export-dialog');
    await page.getByTestId('do-export').click();
    await poll(() => page.getByTestId('export-result').textContent()).toMatch(
      /Wrote \d+ files to .*exports\/e2e\//,
    );
    // <folder>/<run id>/<task>/sample-NNN/, the best sample of each task.
    const out = join(dataDir, 'exports', 'e2e');
    const runDirs = readdirSync(out);
    expect(runDirs).toHaveLength(1);
    const files = readdirSync(join(out, runDirs[0]), { recursive: true }).map(String);
    expect(files.filter((f) => f.endsWith('weights.safetensors')).length).toBeGreaterThan(0);
    expect(files.filter((f) => f.endsWith('manifest.json')).length).toBe(
      files.filter((f) => f.endsWith('weights.safetensors')).length,
    );
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  it('copies, pastes and undoes on the canvas, and autosaves', async () => {
    const { api, page } = studio;
    await node('generate-1').click();
    await page.keyboard.press('ControlOrMeta+c');
    await page.keyboard.press('ControlOrMeta+v');
    await node('generate-2').waitFor();
    await page.keyboard.press('ControlOrMeta+z');
    await poll(() => node('generate-2').count()).toBe(0);
    await page.keyboard.press('ControlOrMeta+Shift+z');
    await node('generate-2').waitFor();
    await page.keyboard.press('ControlOrMeta+z');
    await poll(() => node('generate-2').count()).toBe(0);
    await poll(() => page.getByTestId('save-state').textContent()).toBe('saved');
    const saved = await api.handlers['pipelines.list']({});
    expect(saved).toHaveLength(1);
    const doc = await api.handlers['pipelines.get']({ id: saved[0].id });
    expect(doc.pipeline.nodes.map((n) => n.id).sort()).toEqual(['generate-1', 'source-1']);
    expect(doc.pipeline.edges).toHaveLength(1);
  });

  it('cancels a running run', async () => {
    const { page, consoleErrors } = studio;
    const nameBox = page.getByLabel('Pipeline name');
    await nameBox.fill('slow pipeline');
    await page.getByTestId('run').click();
    await poll(() => node('source-1').getAttribute('data-status')).toBe('running');
    await page.getByTestId('cancel').click();
    await poll(() => page.getByTestId('active-run').textContent(), { timeout: 20_000 }).toContain(
      'cancelled',
    );
    expect(await node('source-1').getAttribute('data-status')).toBe('idle');
    await page.getByTestId('tab-log').click();
    await shot('09-cancelled');
    expect(consoleErrors, consoleErrors.join('\n')).toEqual([]);
  });

  it('keeps the studio working when a panel fails to render, and Retry brings it back', async () => {
    const { page, consoleErrors } = studio;
    /** Set (or clear) the renderer's test hook that makes a named panel throw while rendering. */
    const crash = (name: string | null) =>
      page.evaluate(
        `(() => { window.__d2nwgTestCrash = ${JSON.stringify(name)}; window.dispatchEvent(new Event('d2nwg-test-crash')); })()`,
      );
    const failed = (name: string) => page.getByTestId(`panel-error-${name}`);
    const logShows = async (label: string) => {
      await page.getByTestId('tab-log').click();
      await poll(() => page.getByTestId('log').textContent()).toContain(
        `${label} panel failed to render: test crash in the`,
      );
    };
    const canvasWorks = async () => {
      await poll(() => page.locator('.react-flow__node').count()).toBe(2);
      await node('source-1').waitFor();
    };

    // Side panels and the canvas: the bottom panel (log) goes on working and shows the error.
    for (const [name, label] of [
      ['palette', 'Palette'],
      ['inspector', 'Inspector'],
      ['canvas', 'Canvas'],
    ] as const) {
      if (name === 'inspector') await node('generate-1').click();
      await crash(name);
      await failed(name).waitFor();
      if (name !== 'canvas') await canvasWorks();
      else await page.getByTestId('palette').waitFor();
      await logShows(label);
      if (name === 'canvas') await shot('10-panel-error-canvas');
      await page.getByTestId(`panel-retry-${name}`).click();
      await poll(() => failed(name).count()).toBe(0);
      await canvasWorks();
      await page.getByTestId(name === 'canvas' ? 'palette' : name).waitFor();
    }

    // Bottom tabs: the canvas and the other tabs go on working; Retry remounts the tab.
    for (const [name, label, body] of [
      ['runs', 'Runs', 'runs'],
      ['compare', 'Comparison', 'compare-view'],
      ['charts', 'Charts', 'chart-loss'],
      ['log', 'Log', 'log'],
    ] as const) {
      await page.getByTestId(`tab-${name}`).click();
      await crash(name);
      await failed(name).waitFor();
      await canvasWorks();
      await page.getByTestId('palette').waitFor();
      if (name === 'charts') await shot('11-panel-error-charts');
      await page.getByTestId(`panel-retry-${name}`).click();
      await page.getByTestId(body).waitFor();
      await logShows(label);
    }

    // The export dialog: the message takes the dialog's place and Close dismisses it.
    await page.getByTestId('export').click();
    await page.getByTestId('export-dialog').waitFor();
    await crash('export');
    await failed('export').waitFor();
    await canvasWorks();
    await failed('export').getByRole('button', { name: 'Close' }).click();
    await poll(() => failed('export').count()).toBe(0);
    await crash(null);
    await logShows('Export dialog');
    await page.getByTestId('export').click();
    await page.getByTestId('export-dialog').waitFor();
    await page.getByTestId('export-dialog').getByRole('button', { name: 'Close' }).click();

    // React reports each caught error on the console; nothing else may appear there.
    const unexpected = consoleErrors.filter((e) => !e.includes('test crash in the'));
    expect(unexpected, unexpected.join('\n')).toEqual([]);
  });
});
