/**
 * An error boundary per panel, so a render error in one panel (a chart fed odd data, a form
 * given an unexpected schema) shows a compact message there with a Retry button, and the rest
 * of the studio keeps working instead of the whole window going blank. The error goes to the
 * log panel's store with the first lines of its component stack.
 *
 * Tests force a render error in a named panel with `window.__d2nwgTestCrash = '<name>'` followed
 * by `window.dispatchEvent(new Event('d2nwg-test-crash'))`; Retry clears the flag for that panel.
 * Nothing sets the flag in normal use.
 */
import { Component, useSyncExternalStore, type ErrorInfo, type ReactNode } from 'react';
import { errMsg } from './errors.ts';
import { stackHead } from './component-stack.ts';
import { runStore } from './context.ts';

declare global {
  interface Window {
    /** Test hook: the panel that should throw while rendering (see the module comment). */
    __d2nwgTestCrash?: string | null;
  }
}

/** Event that makes the crash probes read `window.__d2nwgTestCrash` again. */
export const TEST_CRASH_EVENT = 'd2nwg-test-crash';

function subscribeCrash(onChange: () => void): () => void {
  window.addEventListener(TEST_CRASH_EVENT, onChange);
  return () => window.removeEventListener(TEST_CRASH_EVENT, onChange);
}
const crashTarget = () => window.__d2nwgTestCrash ?? null;

/** Throws during render while the test hook names this panel. */
function CrashProbe({ name }: { readonly name: string }) {
  const target = useSyncExternalStore(subscribeCrash, crashTarget, () => null);
  if (target === name) throw new Error(`test crash in the ${name} panel (window.__d2nwgTestCrash)`);
  return null;
}

export interface PanelBoundaryProps {
  /** Panel id: names the panel in messages and test ids (`panel-error-<name>`). */
  readonly name: string;
  /** What users call the panel ('Charts'); defaults to the name. */
  readonly label?: string;
  /** Where the message sits: wraps it so it takes the panel's place (a grid area, a modal). */
  readonly frame?: (message: ReactNode) => ReactNode;
  /** Shown as a Close button next to Retry (a dialog that the user may rather dismiss). */
  readonly onClose?: () => void;
  readonly children?: ReactNode;
}

interface State {
  readonly error: Error | null;
  /** Bumped by Retry: the children's key, so they mount afresh. */
  readonly attempt: number;
}

/** See the module comment. */
export class PanelBoundary extends Component<PanelBoundaryProps, State> {
  override state: State = { error: null, attempt: 0 };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    const message = errMsg(error);
    const stack = stackHead(info.componentStack);
    runStore.log({
      time: new Date().toISOString(),
      level: 'error',
      message: `${this.label()} panel failed to render: ${message}${stack ? ` (${stack})` : ''}`,
    });
  }

  private label(): string {
    return this.props.label ?? this.props.name;
  }

  private retry = (): void => {
    if (window.__d2nwgTestCrash === this.props.name) window.__d2nwgTestCrash = null;
    this.setState((s) => ({ error: null, attempt: s.attempt + 1 }));
  };

  override render(): ReactNode {
    const { error, attempt } = this.state;
    const { name, frame, onClose, children } = this.props;
    if (!error) {
      return (
        <PanelBody key={attempt} name={name}>
          {children}
        </PanelBody>
      );
    }
    const message = (
      <div className="panel-error" role="alert" data-testid={`panel-error-${name}`}>
        <strong>{this.label()} stopped working.</strong>
        <span className="panel-error-msg" title={error.message}>
          {error.message}
        </span>
        <span className="muted small">Details are in the Log tab.</span>
        <div className="panel-error-actions">
          <button type="button" onClick={this.retry} data-testid={`panel-retry-${name}`}>
            Retry
          </button>
          {onClose && (
            <button type="button" onClick={onClose}>
              Close
            </button>
          )}
        </div>
      </div>
    );
    return frame ? frame(message) : message;
  }
}

/** The boundary's content with its crash probe; remounted by Retry through its key. */
function PanelBody({ name, children }: { readonly name: string; readonly children?: ReactNode }) {
  return (
    <>
      <CrashProbe name={name} />
      {children}
    </>
  );
}
