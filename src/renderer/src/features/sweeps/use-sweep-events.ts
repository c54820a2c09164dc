/** Keep the sweeps list fresh: at start, when a sweep starts or ends, and when a run ends. */
import { useEffect } from 'react';
import type { ContractApi } from '../../../../shared/ipc.ts';
import type { SweepActions } from './sweep-actions.ts';

export function useSweepEvents(api: ContractApi, actions: SweepActions): void {
  useEffect(() => {
    actions.refresh();
    const offSweep = api.events.sweep(() => actions.refresh());
    const offRun = api.events.run(({ event }) => {
      if (event.type === 'runDone') actions.refresh();
    });
    return () => {
      offSweep();
      offRun();
    };
  }, [api, actions]);
}
