import { defineConfig } from 'vitest/config';

/**
 * The fault-injection suite (`npm run test:faults`): each test starts its own Postgres cluster and Redis
 * server, runs the daemon as a child process and kills, stops or freezes them. Serial: the faults are
 * timed against real processes, and two suites restarting servers at once on 2 cores would only measure
 * each other.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    env: { TZ: 'UTC' },
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    // A fault test times real processes on a shared 2-core machine (initdb, restarts, a lock expiring under
    // load): one that fails is run once more, from a fresh cluster and Redis. Failing twice fails CI. The
    // reporter marks a test that needed the second run, so a flaky fault stays visible.
    retry: 1,
  },
});
