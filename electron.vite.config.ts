import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import react from '@vitejs/plugin-react';

// Three bundles: main (Electron entry + engine host), preload (sandboxed, CJS) and renderer.
export default defineConfig({
  main: {
    build: {
      rollupOptions: {
        input: {
          index: resolve(import.meta.dirname, 'src/main/index.ts'),
          // The engine host worker (training runs here, off the main thread).
          'host-worker': resolve(import.meta.dirname, 'src/main/host/worker.ts'),
        },
        external: ['better-sqlite3', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
      },
    },
  },
  preload: {
    build: {
      // A sandboxed preload can require only electron: bundle zod (used by the contract) in.
      externalizeDeps: false,
      rollupOptions: {
        input: { index: resolve(import.meta.dirname, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(import.meta.dirname, 'src/renderer'),
    build: {
      // Minified: the web mode serves these files as they are, and first paint depends on them.
      minify: true,
      // Monaco and Plotly are lazy chunks over 500 kB by nature; only the entry size matters.
      chunkSizeWarningLimit: 8000,
      rollupOptions: { input: { index: resolve(import.meta.dirname, 'src/renderer/index.html') } },
    },
    plugins: [react()],
  },
});
