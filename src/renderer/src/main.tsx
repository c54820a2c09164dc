import '@xyflow/react/dist/style.css';
import './styles.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { PanelBoundary } from './lib/PanelBoundary.tsx';

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      {/* Last line of defence; each panel has its own boundary inside. */}
      <PanelBoundary name="app" label="D2NWG Studio">
        <App />
      </PanelBoundary>
    </StrictMode>,
  );
}
