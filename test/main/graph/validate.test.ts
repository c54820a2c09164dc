import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registry } from '../../../src/shared/nodes/registry.ts';
import { validatePipeline } from '../../../src/shared/nodes/validate.ts';
import { checkPipelineFile, loadPipelineFile } from '../../../src/main/graph/load.ts';
import { PipelineInvalidError } from '../../../src/main/graph/executor.ts';
import { parsePipeline } from '../../../src/shared/pipeline.ts';

const fixture = (name: string) => new URL(`../../fixtures/${name}`, import.meta.url).pathname;

describe('validatePipeline', () => {
  it('lists every problem of a broken pipeline at once, each with its node or edge', async () => {
    const check = await checkPipelineFile(fixture('invalid-many.pipeline.json'), registry);
    const got = check.problems.map((p) => `${p.code} ${p.nodeId ?? '-'} ${p.edgeId ?? '-'}`);
    expect(got).toEqual(
      expect.arrayContaining([
        'bad-config data -',
        'unknown-type mystery -',
        'bad-config vae -',
        'multiple-edges tasks -',
        'type-mismatch vae e4',
        'dangling-edge enc e5',
        'unknown-port feats e6',
        'missing-input enc -',
        'cycle cmpA -',
      ]),
    );
    const text = check.problems.map((p) => p.message).join('\n');
    expect(text).toMatch(/config\.source\.images: /);
    expect(text).toMatch(/config\.source\.labels: /);
    expect(text).toMatch(/config\.latentDim: .*number/);
    expect(text).toMatch(/refers to missing node 'ghost'/);
    expect(text).toMatch(/no output port 'nope' \(outputs: features\)/);
    expect(text).toMatch(/output type 'features' does not fit input type 'zoo'/);
    expect(text).toMatch(/takes one edge but has 2 \(e2, e3\)/);
    expect(text).toMatch(/required input 'vae' \(vae\) is not connected/);
    expect(text).toMatch(/cycle through nodes 'cmpA' → 'cmpB' → 'cmpA'/);
    expect(check.validation?.order).toEqual([]);
  });

  it('accepts a valid pipeline, fills config defaults and orders nodes topologically', async () => {
    const check = await checkPipelineFile(fixture('minimal.pipeline.json'), registry);
    expect(check.problems).toEqual([]);
    expect(check.validation?.order).toEqual(['data', 'tasks', 'feats']);
    const cfg = check.validation?.configs.get('data');
    expect(cfg).toEqual({ source: { kind: 'fashion-mnist', variant: 'embedded' } });
  });

  it('orders by dependencies, not by file order', () => {
    const json = JSON.parse(readFileSync(fixture('minimal.pipeline.json'), 'utf8'));
    json.nodes.reverse();
    const r = parsePipeline(json);
    if (!r.ok) throw new Error('fixture does not parse');
    const v = validatePipeline(r.pipeline, registry);
    expect(v.ok).toBe(true);
    expect(v.order).toEqual(['data', 'tasks', 'feats']);
  });

  it('flags duplicate node and edge ids', () => {
    const json = JSON.parse(readFileSync(fixture('minimal.pipeline.json'), 'utf8'));
    json.nodes.push({ ...json.nodes[1] });
    json.edges.push({ ...json.edges[0] });
    const r = parsePipeline(json);
    if (!r.ok) throw new Error('fixture does not parse');
    const v = validatePipeline(r.pipeline, registry);
    expect(
      v.problems.filter((p) => p.code === 'duplicate-id').map((p) => p.nodeId ?? p.edgeId),
    ).toEqual(['feats', 'e1']);
  });

  it('loadPipelineFile refuses files that are not pipelines, naming the file and the field', async () => {
    const err = await loadPipelineFile(fixture('not-a-pipeline.pipeline.json'), registry).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PipelineInvalidError);
    expect(String(err)).toMatch(/not-a-pipeline\.pipeline\.json/);
    expect(String(err)).toMatch(/format/);
    expect(String(err)).toMatch(/nodes\[0\]\.id/);
  });

  it('loadPipelineFile names the file when it is missing or not JSON', async () => {
    await expect(loadPipelineFile('/nonexistent/x.json', registry)).rejects.toThrow(
      /\/nonexistent\/x\.json: cannot read/,
    );
    await expect(loadPipelineFile(fixture('../helpers/tf.ts'), registry)).rejects.toThrow(
      /not valid JSON/,
    );
  });
});
