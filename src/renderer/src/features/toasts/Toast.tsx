/** The toast over the canvas, when one is showing. */
import { toasts, useToast, type ToastStore } from './toast-store.ts';

export function Toast({ store = toasts }: { readonly store?: ToastStore }) {
  const toast = useToast(store);
  if (!toast) return null;
  return (
    <div className="toast" role="status" data-testid="toast">
      {toast}
    </div>
  );
}
