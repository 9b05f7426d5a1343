import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { testTiers } from './tiers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('testTiers', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function project(files: Record<string, string>): string {
    dir = mkdtempSync(join(tmpdir(), 'tiers-'));
    for (const [path, source] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), source);
    }
    mkdirSync(join(dir, 'machines'), { recursive: true });
    return dir;
  }

  it('puts a test that reaches a socket through a local helper in the system tier', () => {
    const root = project({
      'test/a/helper.ts':
        "import { createServer } from 'node:http';\nexport const s = createServer;",
      'test/a/middle.ts': "export * from './helper.js';",
      'test/a/server.test.ts': "import { s } from './middle.js';\nvoid s;",
      'test/a/pure.test.ts': "import { expect } from 'vitest';\nimport { join } from 'node:path';",
      'test/a/browser.test.ts': "const pw = await import('playwright-core');",
      'test/a/redis.test.ts': "import { redisStore } from 'session-process/redis';",
      'test/a/fault.long.test.ts': "import { spawn } from 'node:child_process';",
    });
    expect(testTiers(root)).toEqual({
      fast: ['test/a/pure.test.ts'],
      system: ['test/a/browser.test.ts', 'test/a/redis.test.ts', 'test/a/server.test.ts'],
    });
  });

  it('sorts this repository: the core is fast, servers and Redis are system, nothing is lost', () => {
    const { fast, system } = testTiers(ROOT);
    expect(fast).toContain('test/core/call.test.ts');
    expect(fast).toContain('machines/cart.test.ts');
    expect(system).toContain('test/koa/sessionProcess.test.ts');
    expect(system).toContain('test/redis/cluster.test.ts');
    expect(system).toContain('test/live/browser.test.ts');
    expect(new Set([...fast, ...system]).size).toBe(fast.length + system.length);
  });
});
