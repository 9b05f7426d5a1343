import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeys, redisAvailable } from '../../redis/storeHelpers.js';
import { bundleChild, removeBundles } from '../../support/bundleChild.js';

const dir = mkdtempSync(join(tmpdir(), 'sp-durable-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  removeBundles();
});
const IDS = Array.from({ length: 20 }, (_, i) => `cart${i}`);
const hasRedis = await redisAvailable();

/**
 * Streams `put` calls into a durable child, kills it with SIGKILL after `killAfter` acks, then
 * reads every session back in a fresh child: each acknowledged item must be there exactly once.
 */
async function killMidStream(kind: 'sqlite' | 'redis', where: string, killAfter: number) {
  const child = await bundleChild(new URL('./durableChild.ts', import.meta.url));
  const proc = spawn(process.execPath, [child, kind, where, 'serve', ''], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const acked = new Set<string>();
  let buffered = '';
  let sent = 0;
  const feed = () => {
    // Keep about 200 calls in flight, spread over the sessions.
    while (proc.exitCode === null && !proc.killed && sent - acked.size < 200 && sent < 50_000) {
      proc.stdin.write(`${IDS[sent % IDS.length]} item${sent}\n`);
      sent++;
    }
  };
  proc.stdin.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('exit', () => resolve());
    proc.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line.startsWith('ack ')) acked.add(line.slice(4));
      if (acked.size >= killAfter && !proc.killed) proc.kill('SIGKILL');
      else feed();
    });
    feed();
  });
  expect(proc.signalCode).toBe('SIGKILL');

  const dump = spawn(process.execPath, [child, kind, where, 'dump', IDS.join(',')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  dump.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  await new Promise((resolve) => dump.on('exit', resolve));
  const items = JSON.parse(out) as Record<string, string[]>;
  const all = Object.values(items).flat();
  const missing = [...acked].filter((sku) => !all.includes(sku));
  const duplicated = all.filter((sku, i) => all.indexOf(sku) !== i);
  console.log(
    `${kind}: ${acked.size} acknowledged calls before SIGKILL (${sent} sent); ` +
      `${missing.length} lost, ${duplicated.length} duplicated`,
  );
  expect(missing).toEqual([]);
  expect(duplicated).toEqual([]);
}

describe('durable', () => {
  it('keeps every acknowledged call through SIGKILL, on SQLite', async () => {
    await killMidStream('sqlite', join(dir, 'sessions.db'), 1_234);
  });

  it.skipIf(!hasRedis)('keeps every acknowledged call through SIGKILL, on Redis', async () => {
    const prefix = `sp-durable-${process.pid}:`;
    try {
      await killMidStream('redis', prefix, 1_234);
    } finally {
      const redis = new Redis('redis://127.0.0.1:6379');
      await deleteKeys(redis, prefix);
      redis.disconnect();
    }
  });
});
