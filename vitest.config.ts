import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    // test/faults is its own, serial suite: npm run test:faults (vitest.faults.config.ts).
    exclude: ['node_modules/**', 'dist/**', 'test/faults/**'],
    globalSetup: ['test/global-setup.ts'],
    // Rules must not lean on the machine's zone; the business zone comes from config.
    env: { TZ: 'UTC' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
