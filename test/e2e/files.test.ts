/**
 * Browser end-to-end tests (web mode, Chromium) of pipelines as files and a readable first
 * screen: the quickstart leads and opens at a readable zoom without being saved, a misspelled key
 * typed in Monaco shows the key meant, and the Pipelines dialog lists, renames, exports
 * (download), imports (a refused file named with its problem) and deletes (runs kept).
 * Screenshots go to test/artifacts/.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Pipeline } from '../../src/shared/pipeline.ts';
import { ROOT } from '../helpers/e2e-build.ts';
import { hasChromium, poll, TOY_EXAMPLE, useStudio } from '../helpers/e2e-studio.ts';

/** The file the import test loads: the toy example under another name. */
const TOY: Pipeline = { ...TOY_EXAMPLE, name: 'Toy file' };

describe.skipIf(!hasChromium)('pipelines as files, in the browser (web mode)', () => {
  /** Answers for the page's prompt() and confirm() dialogs, in order. */
  const answers: (string | boolean)[] = [];
  const asked: string[] = [];
  const studio = useStudio({
    label: 'files',
    engine: new URL('./fixtures/e2e-engine.ts', import.meta.url),
    examples: [join(ROOT, 'resources', 'pipelines', 'quickstart.json')],
    onDialog: (d) => {
      asked.push(d.message());
      const a = answers.shift();
      if (a === false) void d.dismiss();
      else void d.accept(typeof a === 'string' ? a : undefined);
    },
  });

  const { shot } = studio;
  const node = (id: string) => studio.page.getByTestId(`node-${id}`);
  const list = () => studio.api.handlers['pipelines.list']({});

  it('leads with the quickstart and opens it readable, without saving a copy', async () => {
    const { server, page } = studio;
    await page.goto(server.url);
    await page.getByTestId('first-run').waitFor();
    const first = page.getByTestId('open-quickstart');
    await first.waitFor();
    await shot('20-first-run-quickstart');
    await first.click();
    await node('data').waitFor();
    // Node titles on screen: their font size times the canvas zoom, at least ~11 px.
    await poll(() =>
      page.evaluate(`(() => {
        const title = document.querySelector('.react-flow__node .node-title');
        const vp = document.querySelector('.react-flow__viewport');
        if (!title || !vp) return 0;
        const zoom = new DOMMatrixReadOnly(getComputedStyle(vp).transform).a;
        return parseFloat(getComputedStyle(title).fontSize) * zoom;
      })()`),
    ).toBeGreaterThanOrEqual(10.9);
    // Large: the start of the chain is in view, the rest is scrolled to.
    const box = await page.getByTestId('canvas').boundingBox();
    const data = await node('data').boundingBox();
    expect(box && data && data.x >= box.x && data.y >= box.y).toBe(true);
    await shot('21-quickstart-opened');
    // A chain: the inputs the spine carries are not wired, and show as satisfied (a hollow
    // handle, the source in the tooltip), not as missing.
    expect(await page.locator('.react-flow__edge').count()).toBe(22);
    expect(await page.locator('.node-invalid').count()).toBe(0);
    const carried = page.getByTestId('port-encoder-zoo');
    expect(await carried.getAttribute('data-inherited')).toBe('zoo.zoo');
    expect(await carried.getAttribute('title')).toBe('zoo: from zoo.zoo, carried by VAE');
    expect(await page.getByTestId('port-encoder-vae').getAttribute('data-inherited')).toBeNull();
    // The wheel scrolls through the graph; with Control held it zooms.
    const view = async () =>
      page.evaluate<[number, number, number]>(
        `(() => { const m = new DOMMatrixReadOnly(getComputedStyle(document.querySelector('.react-flow__viewport')).transform); return [m.a, m.e, m.f]; })()`,
      );
    const [zoom0, , y0] = await view();
    if (!box) throw new Error('canvas not visible');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, 200);
    await poll(async () => (await view())[2]).toBeLessThan(y0);
    expect((await view())[0]).toBe(zoom0);
    await page.keyboard.down('Control');
    await page.mouse.wheel(0, 200);
    await page.keyboard.up('Control');
    await poll(async () => (await view())[0]).toBeLessThan(zoom0);
    // Opened, not edited: nothing saved, even after the autosave delay.
    await page.waitForTimeout(2500);
    expect(await list()).toEqual([]);
    expect(await page.getByTestId('save-state').textContent()).toBe('unsaved');
  });

  it('shows the key meant for a misspelled key typed in Monaco', async () => {
    const { page } = studio;
    await page.locator('.react-flow__controls-fitview').click();
    await node('vae').click();
    const editor = page.getByTestId('monaco');
    await editor.locator('.view-lines').waitFor({ timeout: 30_000 });
    await editor.locator('.view-lines').click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText('{\n"hidden": [128],\n"latentDim": 32,\n"epoch": 4\n}');
    // The marker: a squiggle under the key, and its message on hover.
    await editor.locator('.squiggly-error').first().waitFor();
    const message = '`epoch`: unknown key; did you mean `epochs`?';
    const key = editor.locator('.view-line span', { hasText: '"epoch"' }).last();
    await poll(async () => {
      await page.mouse.move(0, 0);
      await key.hover();
      return page
        .locator('.monaco-hover')
        .filter({ hasText: 'unknown key' })
        .first()
        .textContent({ timeout: 2000 })
        .catch(() => '');
    }).toContain(message);
    // Monaco's generic "Property epoch is not allowed" does not repeat it.
    expect(await page.locator('.monaco-hover').first().textContent()).not.toContain('not allowed');
    await poll(() => page.getByTestId('node-problems').textContent()).toContain(message);
    await shot('22-monaco-misspelled-key');
    // The edit made the example a saved pipeline (once).
    await poll(async () => (await list()).map((p) => p.name)).toEqual(['quickstart']);
  });

  it('lists, renames and exports (a download) saved pipelines', async () => {
    const { page } = studio;
    await page.getByTestId('open-files').click();
    const dialog = page.getByTestId('files-dialog');
    await dialog.waitFor();
    await poll(() => dialog.getByTestId('file-open').allTextContents()).toEqual(['quickstart']);
    await shot('23-files-dialog');
    answers.push('My quickstart');
    await dialog.getByTestId('file-rename').click();
    await poll(() => dialog.getByTestId('file-open').allTextContents()).toEqual(['My quickstart']);
    expect(asked.at(-1)).toBe("Rename 'quickstart' to");
    // The open pipeline took the new name, still saved.
    expect(await page.getByLabel('Pipeline name').inputValue()).toBe('My quickstart');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      dialog.getByTestId('file-export').click(),
    ]);
    expect(download.suggestedFilename()).toBe('My-quickstart.json');
    const file = await download.path();
    const exported = JSON.parse(readFileSync(file, 'utf8')) as Pipeline;
    expect(exported.name).toBe('My quickstart');
    expect(exported.nodes.find((n) => n.id === 'vae')?.config).toMatchObject({ epoch: 4 });
  });

  it('refuses a file with a misspelled key, naming it; imports a good one and runs it', async () => {
    const { page } = studio;
    const dialog = page.getByTestId('files-dialog');
    const bad = {
      ...TOY,
      nodes: TOY.nodes.map((n) => (n.id === 'tasks' ? { ...n, config: { nTrian: 20 } } : n)),
    };
    await page.getByTestId('import-file').setInputFiles({
      name: 'typo.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(bad)),
    });
    await poll(() => page.getByTestId('files-error').textContent()).toContain(
      "typo.json: not a pipeline this studio can open: node 'tasks': ",
    );
    expect(await page.getByTestId('files-error').textContent()).toContain(
      '`nTrian`: unknown key; did you mean `nTrain`?',
    );
    await shot('24-import-refused');
    expect((await list()).length).toBe(1);
    await page.getByTestId('import-file').setInputFiles({
      name: 'toy.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(TOY)),
    });
    await dialog.waitFor({ state: 'detached' });
    await node('tasks').waitFor();
    expect(await page.getByLabel('Pipeline name').inputValue()).toBe('Toy file');
    expect((await list()).map((p) => p.name).sort()).toEqual(['My quickstart', 'Toy file']);
    await poll(() => page.getByTestId('run').isEnabled()).toBe(true);
    await page.getByTestId('run').click();
    await poll(() => node('tasks').getAttribute('data-status'), { timeout: 20_000 }).toBe('done');
  });

  it('deletes after a confirmation and keeps the runs', async () => {
    const { api, page } = studio;
    // The previous test saw the first node finish, not the run: wait for the run to end so the
    // snapshot below does not race its last status write.
    await poll(
      async () => ((await api.handlers['runs.list']({})) as { status: string }[])[0]?.status,
      { timeout: 30_000 },
    ).toBe('done');
    const runsBefore = await api.handlers['runs.list']({});
    expect(runsBefore).toHaveLength(1);
    await page.getByTestId('open-files').click();
    const dialog = page.getByTestId('files-dialog');
    const toyRow = dialog.locator('tr', { hasText: 'Toy file' });
    await toyRow.waitFor();
    answers.push(false);
    await toyRow.getByTestId('file-delete').click();
    expect(asked.at(-1)).toBe(
      "Delete the pipeline 'Toy file' and its saved versions? Its runs are kept.",
    );
    expect((await list()).length).toBe(2);
    answers.push(true);
    await toyRow.getByTestId('file-delete').click();
    await poll(() => dialog.getByTestId('file-open').allTextContents()).toEqual(['My quickstart']);
    expect(await api.handlers['runs.list']({})).toEqual(runsBefore);
    await dialog.getByTestId('files-close').click();
    // The canvas keeps the graph, now unsaved.
    expect(await page.getByTestId('save-state').textContent()).toBe('unsaved');
    await node('tasks').waitFor();
  });

  it('resizes the bottom panel by its top edge and remembers the size', async () => {
    const { page, consoleErrors } = studio;
    const panel = page.locator('.app > .bottom');
    const before = await panel.boundingBox();
    const edge = await page.getByTestId('bottom-resize').boundingBox();
    if (!before || !edge) throw new Error('bottom panel not visible');
    await page.mouse.move(edge.x + 300, edge.y + edge.height / 2);
    await page.mouse.down();
    await page.mouse.move(edge.x + 300, edge.y + edge.height / 2 - 150, { steps: 6 });
    await page.mouse.up();
    await poll(async () => Math.round((await panel.boundingBox())?.height ?? 0)).toBe(
      Math.round(before.height) + 150,
    );
    // The canvas above gave the room.
    await shot('25-bottom-resized');
    await page.reload();
    await page.getByTestId('bottom-resize').waitFor();
    await poll(async () => Math.round((await panel.boundingBox())?.height ?? 0)).toBe(
      Math.round(before.height) + 150,
    );
    expect(consoleErrors, consoleErrors.join('\n')).toEqual([]);
  });
});
