import { defineConfig } from 'vitest/config';
import base from './vitest.config';

/** The browser tests: they need Chromium (Debian's `chromium` package), so they run apart from `npm test`. */
export default defineConfig({
  test: {
    ...base.test,
    include: ['test/browser/**/*.test.ts'],
    exclude: ['node_modules/**'],
    typecheck: { enabled: false },
    coverage: { enabled: false },
  },
});
