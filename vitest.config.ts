import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Temporal's native worker and embedded servers are happier in child processes than in worker threads.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
