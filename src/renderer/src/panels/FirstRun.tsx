/** First-run screen: what the app does, the quickstart, and the example pipelines. */
import type { ExampleInfo } from '../../../shared/ipc.ts';

export interface FirstRunProps {
  readonly examples: readonly ExampleInfo[];
  readonly onOpen: (name: string) => void;
  readonly onBlank: () => void;
}

export function FirstRun({ examples, onOpen, onBlank }: FirstRunProps) {
  return (
    <div className="first-run" data-testid="first-run">
      <h1>D2NWG Studio</h1>
      <p className="lead">
        Generate neural-network weights for a dataset with latent diffusion (Soro et al.): build a
        zoo, train a weight VAE, a dataset encoder and a latent diffusion model, then sample weights
        for a new dataset and compare them with training from scratch.
      </p>
      <div className="cards">
        {examples.map((e) => (
          <button
            type="button"
            key={e.name}
            className="card"
            onClick={() => onOpen(e.name)}
            data-testid={`example-${e.name}`}
          >
            <strong>{e.title}</strong>
            <span className="muted small">{e.description ?? e.name}</span>
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
