import { defineConfig } from 'vitest/config';

// Two projects: engine, CLI, store and renderer-logic tests in Node (`*.test.ts`, each file
// starting on the CLI's tensor backend), and renderer component tests in happy-dom
// (`*.test.tsx`, no tfjs).
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          setupFiles: ['test/helpers/setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'dom',
          include: ['test/**/*.test.tsx'],
          environment: 'happy-dom',
          setupFiles: ['test/helpers/dom.ts'],
        },
      },
    ],
  },
});
