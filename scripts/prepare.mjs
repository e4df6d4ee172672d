import { execFileSync } from 'node:child_process';
import console from 'node:console';
import { createRequire } from 'node:module';
import process from 'node:process';

/**
 * `npm install`'s prepare step: builds dist/ where the development dependencies are installed. A production
 * install (`npm ci --omit=dev`) has no compiler and no bundler, and runs the dist/ built beforehand, so it is left
 * as it is rather than emptied by a build that cannot finish.
 */
const require = createRequire(import.meta.url);
try {
  require.resolve('vite/package.json');
} catch {
  console.log('prepare: development dependencies absent (a production install); dist/ is used as built');
  process.exit(0);
}
execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });
