import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites each start their own registry processes; two cores here, so keep it modest.
    maxWorkers: 2,
    globalSetup: ['test/global-setup.ts'],
  },
});
