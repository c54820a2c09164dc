// Flat ESLint config. Layering rules (DESIGN.md convention 9) live here so tools, not reviews, enforce them.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'node_modules',
      'out',
      'dist',
      'bench/out',
      'test/artifacts',
      'resources',
      '.cache',
      '.tmp',
      '.gpu',
      '.gl',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/ban-ts-comment': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // Type-aware rules: a promise nobody awaits or handles (its rejection would be lost), a promise
    // where a void callback is expected, and casts that change nothing. Casts to tfjs tensor types
    // are exempt: `tf.tidy(() => …) as tf.Tensor2D` narrows what the kernels return, and the
    // explicit-generic form the rule proposes does not typecheck there.
    files: ['src/**/*.{ts,tsx}', 'test/**/*.{ts,tsx}'],
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.node.json', './tsconfig.web.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { attributes: false } },
      ],
    },
  },
  {
    files: ['src/renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@tensorflow/*'],
              message: 'The renderer never imports tfjs: compute runs in the engine.',
            },
            {
              group: ['**/main/**', 'node:*', 'better-sqlite3', 'electron'],
              message: 'The renderer talks to the engine only through window.api / the transport.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['electron', 'node:*', '@tensorflow/*', 'better-sqlite3'],
              message: 'src/shared is pure TypeScript.',
            },
            {
              group: ['**/main/**', '**/renderer/**', '**/preload/**'],
              message: 'src/shared depends on nothing else in src.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/main/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['electron'], message: 'The engine has no Electron import.' },
            { group: ['better-sqlite3', '**/store/**'], message: 'The engine has no DB.' },
          ],
        },
      ],
      // tfjs-backend-webgpu has no synchronous readback in Node: read with `await t.data()` (or
      // engine/common/readback.ts) outside a tf.tidy. A line that only ever runs on wasm/cpu may
      // opt out with a line-level disable directive that says why.
      'no-restricted-properties': [
        'error',
        ...['dataSync', 'arraySync', 'bufferSync'].map((property) => ({
          property,
          message:
            'No synchronous readback in the engine (webgpu cannot): use await t.data() / common/readback.ts.',
        })),
      ],
    },
  },
);
