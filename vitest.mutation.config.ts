import { defineConfig } from 'vitest/config';
import base from './vitest.config';

/**
 * The suite as Stryker runs it for each mutant (`npm run test:mutation`): the behaviour tests only. Left out are
 * the tests that start processes or build the package, which no mutant of the scoped code could change, and the
 * type-level tests, which Stryker's runner cannot run.
 */
export default defineConfig({
  test: {
    ...base.test,
    exclude: [
      ...(base.test?.exclude ?? []),
      'test/package.test.ts',
      'test/processes.test.ts',
      'test/db/embedded-postgres.test.ts',
      'test/db/migrations.test.ts',
    ],
    typecheck: { enabled: false },
    coverage: { enabled: false },
  },
});
