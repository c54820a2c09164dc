/**
 * `d2nwg bench reliability`: the figures of the hardening work in one report,
 * bench/out/reliability.json. Three parts, each runnable alone with `--only`:
 * - fuzz: every reader of user files on `--cases` mutated inputs (default 10,000 per parser);
 *   a failure is anything but an InputError naming the file, or a case over the time bound.
 * - soak: web mode on loopback, `--clients` WebSocket clients and `--rps` API requests/s for
 *   `--soak-seconds` while the quickstart runs: requests, p99 latency, events delivered and lost.
 * - kill: the kill -9 scenarios (zoo build with workers, export, migration) and how many survived.
 * A part not run keeps its figures from the existing report. Exit code 1 when anything failed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createDefaultApi } from '../api/create.ts';
import { intFlag, parseCliArgs } from '../cli/args.ts';
import { resourcesDir } from '../engine/data/sources.ts';
import { InputError } from '../engine/errors.ts';
import { writeJsonReport } from '../engine/formats/atomic.ts';
import { FUZZ_TARGETS, MAX_CASE_MS, fuzzTarget, type FuzzResult } from './fuzz.ts';
import { KILL_SCENARIOS, type KillOutcome } from './kill.ts';
import { soakWebMode, type SoakReport } from './soak.ts';
import { errorMessage } from '../../shared/errors.ts';

const PARTS = ['fuzz', 'soak', 'kill'] as const;
type Part = (typeof PARTS)[number];

function list<T extends string>(value: string | undefined, known: readonly T[], flag: string): T[] {
  if (value === undefined) return [...known];
  const names = value.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!(known as readonly string[]).includes(n)) {
      throw new InputError(`unknown name '${n}'; known: ${known.join(', ')}`, `--${flag}`);
    }
  }
  return names as T[];
}

function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `d2nwg-reliability-${label}-`));
}

async function fuzzPart(cases: number, seed: number, parsers: readonly string[]) {
  const dir = tempDir('fuzz');
  const results: FuzzResult[] = [];
  try {
    for (const target of FUZZ_TARGETS.filter((t) => parsers.includes(t.name))) {
      const r = await fuzzTarget(target, { cases, seed, dir });
      results.push(r);
      console.log(
        `fuzz ${r.parser}: ${r.cases} cases, ${r.ok} decoded, ${r.refused} refused, ` +
          `${r.failed} failures (slowest ${r.maxCaseMs.toFixed(0)} ms, ${r.seconds.toFixed(1)} s)`,
      );
      for (const f of r.failures) console.log(`  case ${f.caseIndex}: ${f.error}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return {
    casesPerParser: cases,
    seed,
    caseTimeBoundMs: MAX_CASE_MS,
    failures: results.reduce((a, r) => a + r.failed, 0),
    parsers: results,
  };
}

async function soakPart(seconds: number, clients: number, rps: number): Promise<SoakReport> {
  const dir = tempDir('soak');
  const api = createDefaultApi({
    mode: 'web',
    version: '0.0.0-bench',
    examplesDir: path.join(resourcesDir(), 'pipelines'),
    dbFile: path.join(dir, 'studio.db'),
    dataDir: dir,
  });
  try {
    const pipeline = await api.handlers['pipelines.openExample']({ name: 'quickstart' });
    const r = await soakWebMode({ api, pipeline, seconds, clients, rps });
    console.log(
      `soak: ${r.requests} requests (${r.requestErrors} errors), p50 ${r.latencyMs.p50} ms, p90 ${r.latencyMs.p90} ms, ` +
        `p99 ${r.latencyMs.p99} ms (${r.p99First5sMs} ms in the run's first 5 s, ${r.p99After5sMs} ms from then on) ` +
        `(event-loop delay p99 ${r.eventLoopDelayMs.p99} ms, max ` +
        `${r.eventLoopDelayMs.max} ms; load ${r.loadAverage} on ${os.cpus().length} cores); ${r.eventsEmitted} events × ${r.clients} clients, ` +
        `${r.eventsLost} lost; run ${r.runStillRunning ? 'still running' : 'over'} at the end; ` +
        `RSS ${r.rssMb.before} → ${r.rssMb.peak} peak → ${r.rssMb.after} MB`,
    );
    return r;
  } finally {
    await api.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function killPart(names: readonly string[]) {
  const outcomes: (KillOutcome | { scenario: string; survived: false; error: string })[] = [];
  for (const name of names) {
    const dir = tempDir(`kill-${name}`);
    try {
      const o = await KILL_SCENARIOS[name](dir);
      outcomes.push(o);
      console.log(`kill -9 ${name} at '${o.killedAt}': ${o.survived ? 'survived' : 'FAILED'}`);
      for (const c of o.checks) console.log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.check}: ${c.detail}`);
    } catch (err) {
      const error = errorMessage(err);
      outcomes.push({ scenario: name, survived: false, error });
      console.log(`kill -9 ${name}: could not run: ${error}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return {
    scenarios: outcomes.length,
    survived: outcomes.filter((o) => o.survived).length,
    outcomes,
  };
}

export async function benchReliability(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(
    'bench reliability',
    argv,
    {
      out: { type: 'string' },
      only: { type: 'string' },
      cases: { type: 'string' },
      seed: { type: 'string' },
      parsers: { type: 'string' },
      'soak-seconds': { type: 'string' },
      clients: { type: 'string' },
      rps: { type: 'string' },
      scenarios: { type: 'string' },
    },
    false,
  );
  const out = values.out ?? path.join('bench', 'out', 'reliability.json');
  const parts = list<Part>(values.only, PARTS, 'only');
  const cases = intFlag(values.cases, 'cases', 10_000);
  const seed = intFlag(values.seed, 'seed', 1);
  const soakSeconds = intFlag(values['soak-seconds'], 'soak-seconds', 60);
  const clients = intFlag(values.clients, 'clients', 20);
  const rps = intFlag(values.rps, 'rps', 50);
  if (cases < 1 || soakSeconds < 1 || clients < 1 || rps < 1) {
    throw new InputError('--cases, --soak-seconds, --clients and --rps must be at least 1');
  }
  const parsers = list(
    values.parsers,
    FUZZ_TARGETS.map((t) => t.name),
    'parsers',
  );
  const scenarios = list(values.scenarios, Object.keys(KILL_SCENARIOS), 'scenarios');

  let previous: Record<string, unknown> = {};
  try {
    previous = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, unknown>;
  } catch {
    // no earlier report (or an unreadable one): start afresh
  }
  const report: Record<string, unknown> = {
    ...previous,
    bench: 'reliability',
    node: process.version,
    cpus: os.cpus().length,
    date: new Date().toISOString(),
  };
  if (parts.includes('fuzz')) report.fuzz = await fuzzPart(cases, seed, parsers);
  if (parts.includes('soak')) report.soak = await soakPart(soakSeconds, clients, rps);
  if (parts.includes('kill')) report.kill = await killPart(scenarios);

  await writeJsonReport(out, report);
  console.log(`wrote ${out}`);
  const fuzz = report.fuzz as { failures: number } | undefined;
  const soak = report.soak as SoakReport | undefined;
  const kill = report.kill as { scenarios: number; survived: number } | undefined;
  const bad =
    (parts.includes('fuzz') && (fuzz?.failures ?? 0) > 0) ||
    (parts.includes('soak') && ((soak?.eventsLost ?? 0) !== 0 || (soak?.requestErrors ?? 0) > 0)) ||
    (parts.includes('kill') && kill !== undefined && kill.survived < kill.scenarios);
  return bad ? 1 : 0;
}
