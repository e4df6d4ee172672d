import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/database-hooks.ts'],
    include: ['test/**/*.test.ts'],
    // Run by `npm run test:browser` (they need Chromium) and `npm run test:deployment` (PgBouncer).
    exclude: ['test/browser/**', 'test/deployment/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    typecheck: {
      enabled: true,
      include: ['test/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
      ignoreSourceErrors: true,
    },
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts', 'dev/**/*.ts'],
      // The entry points (and the telemetry preload they load first) only wire the pieces the tests exercise one by
      // one (and run as processes in test/processes.test.ts and test/worker/processes.test.ts); barrels hold no logic.
      exclude: [
        'src/main.ts',
        'dev/demo-worker.ts',
        'src/scheduler-main.ts',
        'src/telemetry.ts',
        '**/index.ts',
      ],
      reporter: ['text-summary', 'text', 'json-summary'],
      thresholds: { lines: 90, branches: 90 },
    },
  },
});
