import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { testTiers } from './test/support/tiers.js';

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

// Tests and examples import the package by its public names, as users do; these resolve to the
// sources so that `npm test` needs no build step.
/** The package's public names resolved to the sources (shared with vitest.long.config.ts). */
export const alias = [
  { find: /^session-process$/, replacement: src('index.ts') },
  { find: /^session-process\/koa$/, replacement: src('koa/index.ts') },
  { find: /^session-process\/live$/, replacement: src('live/index.ts') },
  { find: /^session-process\/client$/, replacement: src('client/index.ts') },
  { find: /^session-process\/visualizer$/, replacement: src('visualizer/index.ts') },
  { find: /^session-process\/testing$/, replacement: src('testing/index.ts') },
  { find: /^session-process\/sqlite$/, replacement: src('sqlite/index.ts') },
  { find: /^session-process\/redis$/, replacement: src('redis/index.ts') },
  { find: /^session-process\/prometheus$/, replacement: src('prometheus/index.ts') },
];

const tiers = testTiers(fileURLToPath(new URL('.', import.meta.url)));

export default defineConfig({
  resolve: { alias },
  test: {
    // Two tiers of the default suite, run as two CI steps (`npm run test:fast`, `test:system`);
    // test/support/tiers.ts sorts each file by what it imports. The long tier (fault suites under
    // CPU load, `*.long.test.ts`) runs apart: `npm run test:long`.
    projects: [
      { extends: true, test: { name: 'fast', include: tiers.fast } },
      { extends: true, test: { name: 'system', include: tiers.system } },
    ],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
