/**
 * First-run screen: what the app does, then the quickstart as the one obvious first step (a
 * large "Open quickstart"), then the other examples and a blank canvas.
 */
import type { ExampleInfo } from '../../../shared/ipc.ts';

/** The example the first screen leads with (resources/pipelines/quickstart.json). */
export const QUICKSTART = 'quickstart';

export interface FirstRunProps {
  readonly examples: readonly ExampleInfo[];
  readonly onOpen: (name: string) => void;
  readonly onBlank: () => void;
}

export function FirstRun({ examples, onOpen, onBlank }: FirstRunProps) {
  const quickstart = examples.find((e) => e.name === QUICKSTART);
  const others = examples.filter((e) => e !== quickstart);
  return (
    <div className="first-run" data-testid="first-run">
      <h1>D2NWG Studio</h1>
      <p className="lead">
        Generate neural-network weights for a dataset with latent diffusion (Soro et al.): build a
        zoo, train a weight VAE, a dataset encoder and a latent diffusion model, then sample weights
        for a new dataset and compare them with training from scratch.
      </p>
      {quickstart && (
        <section className="quickstart" aria-label="Quickstart">
          <button
            type="button"
            className="primary big"
            onClick={() => onOpen(quickstart.name)}
            data-testid="open-quickstart"
          >
            Open quickstart
          </button>
          <p className="muted clamp" title={quickstart.description}>
            {quickstart.description ??
              'The whole method on the embedded Fashion-MNIST, sized for a laptop.'}
          </p>
        </section>
      )}
      <h2 className="more">{quickstart ? 'Or start from' : 'Start from'}</h2>
      <div className="cards">
        {others.map((e) => (
          <button
            type="button"
            key={e.name}
            className="card"
            onClick={() => onOpen(e.name)}
            data-testid={`example-${e.name}`}
          >
            <strong>{e.title}</strong>
            <span className="muted small clamp" title={e.description}>
              {e.description ?? e.name}
            </span>
          </button>
        ))}
        <button type="button" className="card ghost" onClick={onBlank} data-testid="blank">
          <strong>Blank canvas</strong>
          <span className="muted small">Start from an empty pipeline.</span>
        </button>
      </div>
      <p className="muted small">
        Quickstart from a terminal: <code>npm run quickstart</code> runs the whole pipeline on the
        embedded Fashion-MNIST.
        {examples.length === 0 && ' (No example pipelines were found in resources/pipelines.)'}
      </p>
    </div>
  );
}

export interface EmptyCanvasProps {
  readonly examples: readonly ExampleInfo[];
  readonly onOpen: (name: string) => void;
}

/** Over an empty canvas: how to start, with the quickstart one click away. */
export function EmptyCanvas({ examples, onOpen }: EmptyCanvasProps) {
  const quickstart = examples.find((e) => e.name === QUICKSTART);
  return (
    <div className="canvas-empty" data-testid="canvas-empty">
      <p>This pipeline is empty. Drag nodes here from the palette{quickstart ? ', or' : '.'}</p>
      {quickstart && (
        <button
          type="button"
          className="primary"
          onClick={() => onOpen(quickstart.name)}
          data-testid="empty-open-quickstart"
        >
          Open quickstart
        </button>
      )}
    </div>
  );
}
