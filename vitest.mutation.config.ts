import { defineConfig } from 'vitest/config';
import base from './vitest.config';
import QuickKillSequencer from './test/support/quick-kill-sequencer';

/**
 * The suite as Stryker runs it for each mutant (`npm run test:mutation`): the behaviour tests. Left out are the
 * tests that start processes, build the package or stop the database (no mutant of the scoped code changes what
 * they check that the behaviour tests do not), the time-bounded load and fuzz runs, whose seconds per mutant the
 * behaviour tests' boundaries replace, and the type-level tests, which Stryker's runner cannot run.
 */
export default defineConfig({
  test: {
    ...base.test,
    exclude: [
      ...(base.test?.exclude ?? []),
      'test/package.test.ts',
      'test/processes.test.ts',
      'test/worker/processes.test.ts',
      'test/db/embedded-postgres.test.ts',
      'test/db/migrations.test.ts',
      'test/db/outage.test.ts',
      'test/api/resilience.test.ts',
      'test/api/fuzz.test.ts',
      'test/system/**',
    ],
    // Each test file loads the modules afresh, as in `npm test`: what is built once and kept (the procedure table,
    // the OpenAPI document) is then built again under the mutant being tested, instead of surviving from the
    // run before it.
    isolate: true,
    sequence: { sequencer: QuickKillSequencer },
    typecheck: { enabled: false },
    coverage: { enabled: false },
  },
});
