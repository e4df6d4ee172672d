import { defineConfig } from 'vitest/config';
import base from './vitest.config';

/**
 * Deployment tests: they start PgBouncer (Debian's `pgbouncer` package) and several API processes, so they run
 * apart from `npm test`, as `npm run test:deployment`.
 */
export default defineConfig({
  test: {
    ...base.test,
    include: ['test/deployment/**/*.test.ts'],
    exclude: ['node_modules/**'],
    typecheck: { enabled: false },
    coverage: { enabled: false },
  },
});
