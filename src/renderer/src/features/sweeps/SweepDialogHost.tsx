/** Shows the sweep dialog while the sweeps store says it is open. */
import { PanelBoundary } from '../../lib/PanelBoundary.tsx';
import type { SweepActions } from './sweep-actions.ts';
import { SweepDialog } from './SweepDialog.tsx';
import { sweepsStore, useSweeps } from './sweeps-store.ts';

export function SweepDialogHost({ actions }: { readonly actions: SweepActions }) {
  const open = useSweeps((s) => s.dialog);
  const field = useSweeps((s) => s.field);
  if (!open) return null;
  return (
    <PanelBoundary name="sweep" label="Sweep">
      <SweepDialog
        key={field ?? ''}
        field={field}
        actions={actions}
        onClose={() => sweepsStore.close()}
      />
    </PanelBoundary>
  );
}
