import { defineConfig } from 'vitest/config';

/**
 * The browser suite (`npm run test:browser`, run by .ci/run after the main suite): the ops console in Debian's
 * headless Chromium. Its own run because it takes about a minute on two cores (seeding, a browser, every page).
 */
export default defineConfig({
  test: {
    include: ['test/**/*.browser.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    globalSetup: ['test/global-setup.ts'],
    env: { TZ: 'UTC' },
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
