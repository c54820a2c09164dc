/**
 * What the studio loads once at start: node specs, system info, examples, the runs list and the
 * last saved pipeline (or the first-run screen when there is none). A failure here means the
 * engine is unreachable: `fatal` carries the message for the full-page error.
 */
import { useEffect, useMemo, useState } from 'react';
import type { ContractApi, ExampleInfo, NodeSpecInfo, SystemInfo } from '../../../../shared/ipc.ts';
import { errMsg } from '../../lib/errors.ts';
import type { DocumentStore } from '../document/document-store.ts';
import type { RunsStore } from '../runs/runs-store.ts';

export interface Session {
  readonly specs: readonly NodeSpecInfo[];
  readonly specMap: ReadonlyMap<string, NodeSpecInfo>;
  readonly info: SystemInfo | null;
  readonly examples: readonly ExampleInfo[];
  readonly fatal: string | null;
}

export function useSession(api: ContractApi, doc: DocumentStore, runs: RunsStore): Session {
  const [specs, setSpecs] = useState<readonly NodeSpecInfo[]>([]);
  const [info, setInfo] = useState<SystemInfo | null>(null);
  const [examples, setExamples] = useState<readonly ExampleInfo[]>([]);
  const [fatal, setFatal] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    (async () => {
      const [s, i, ex, rs, saved] = await Promise.all([
        api.specs.list({}),
        api.system.info({}),
        api.pipelines.examples({}),
        api.runs.list({}),
        api.pipelines.list({}),
      ]);
      if (!alive) return;
      setSpecs(s);
      setInfo(i);
      setExamples(ex);
      runs.setRuns(rs);
      const last = saved[0];
      if (last) {
        const d = await api.pipelines.get({ id: last.id });
        if (alive) doc.load(d.pipeline, d.id);
      } else {
        doc.setFirstRun(true);
      }
    })().catch((e: unknown) => {
      if (alive) setFatal(errMsg(e));
    });
    return () => {
      alive = false;
    };
  }, [api, doc, runs]);

  const specMap = useMemo(() => new Map(specs.map((s) => [s.type, s])), [specs]);
  return { specs, specMap, info, examples, fatal };
}
