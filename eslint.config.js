import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Node globals for plain JS files (TS files get them from @types/node). */
const nodeGlobals = Object.fromEntries(
  [
    'process',
    'console',
    'Buffer',
    'URL',
    'URLSearchParams',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'structuredClone',
    'AbortController',
    'AbortSignal',
    'fetch',
  ].map((name) => [name, 'readonly']),
);

/** Files under `glob` may not import the sibling folders of src/ named in `forbidden`. */
function layer(glob, forbidden, why) {
  return {
    files: [glob],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^\\.\\./(${forbidden.join('|')})/`,
              message: `${why} (docs/architecture.md)`,
            },
          ],
        },
      ],
    },
  };
}

export default defineConfig(
  // .scratch/ holds throwaway experiments (gitignored), not project code.
  { ignores: ['node_modules/', '.herald/', '.scratch/', 'dist/', 'coverage/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's test()/describe() return promises the runner tracks itself.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // The layers of docs/architecture.md: each folder imports only the layers below it.
  layer(
    'src/core/**',
    [
      'redis',
      'memory',
      'ops',
      'cli',
      'console',
      'patterns',
      'embedded',
      'service',
      'testing',
      'test-support',
    ],
    'core knows no backend',
  ),
  layer(
    'src/redis/**',
    ['memory', 'ops', 'cli', 'console', 'patterns', 'service', 'testing', 'test-support'],
    'the Redis backend depends on core only',
  ),
  layer(
    'src/memory/**',
    ['redis', 'ops', 'cli', 'console', 'patterns', 'embedded', 'service', 'test-support'],
    'the memory backend depends on core only',
  ),
  layer(
    'src/ops/**',
    ['cli', 'console', 'service', 'test-support'],
    'ops is used by the CLI and console, not the other way round',
  ),
  layer('src/patterns/**', ['ops', 'cli', 'console', 'memory'], 'patterns build on the contract'),
  {
    // Examples and the benchmark use Herald as a user would: its public entry points only
    // (test files may also use the internal test helpers).
    files: ['examples/**/*.ts', 'bench/**/*.ts'],
    ignores: ['**/*.test.ts', 'examples/saga/test-support.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex:
                '^(\\.\\./)+src/(?!(index|memory/index|ops/index|testing/index|console/server)\\.ts$)',
              message:
                "use Herald's public API: src/index.ts ('herald'), src/memory/index.ts, src/ops/index.ts, src/testing/index.ts ('herald/testing') or src/console/server.ts ('herald/console')",
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: nodeGlobals },
  },
);
