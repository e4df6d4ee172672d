import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The order of test files for mutation runs, where the run stops at the first failing test (Stryker's bail): a
 * file that failed on the last run first, as the mutant tested next sits beside the one it killed, then the
 * quickest files first, so that a mutant killed by a quick test never waits for the minutes of load tests that
 * reach it too. Vitest's own order (longest first) suits a full run on many workers instead. A file's cost is the
 * longest run seen of it, since a run of a few of its tests records only their time.
 */
export default class QuickKillSequencer extends BaseSequencer {
  private readonly longestRun = new Map<string, number>();

  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cost = new Map(
      files.map((file) => {
        const key = `${file.project.name}:${path.relative(this.ctx.config.root, file.moduleId)}`;
        const last = this.ctx.cache.getFileTestResults(key);
        const longest = Math.max(this.longestRun.get(key) ?? 0, last?.duration ?? 0);
        this.longestRun.set(key, longest);
        return [file, { failed: last?.failed === true, longest }] as const;
      }),
    );
    return Promise.resolve(
      [...files].sort((a, b) => {
        const costA = cost.get(a)!;
        const costB = cost.get(b)!;
        if (costA.failed !== costB.failed) return costA.failed ? -1 : 1;
        return costA.longest - costB.longest;
      }),
    );
  }
}
