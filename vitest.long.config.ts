import { defineConfig } from 'vitest/config';
import { alias } from './vitest.config.js';

// The long tier: fault suites that run under CPU load (Jepsen-style, rolling deploys). Each file
// starts its own load; files run one at a time so that they do not load each other.
export default defineConfig({
  resolve: { alias },
  test: {
    include: ['test/**/*.long.test.ts'],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
