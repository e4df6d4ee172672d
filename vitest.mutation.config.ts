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
    // Modules stay loaded from one test file to the next (each still gets its own database): a third of the CPU
    // of a run, which every mutant repeats. The files share no module state that this would leak (tried shuffled).
    isolate: false,
    sequence: { sequencer: QuickKillSequencer },
    typecheck: { enabled: false },
    coverage: { enabled: false },
  },
});
