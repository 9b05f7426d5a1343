/**
 * bench/store-raw: the stores alone, without the supervisor: what a group commit costs, how fast
 * records load and wakeups are found, and what a cart session takes on disk or in Redis.
 *
 *   npm run build && node dist/bench/store-raw.js
 *
 * Redis is the one on 127.0.0.1:6379 (REDIS_URL to change it), with a unique key prefix removed
 * afterwards; without one its rows are skipped. Runs in a few seconds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { memoryStore, type SessionStore, type StoreWrite } from 'session-process';
import { redisStore } from 'session-process/redis';
import { sqliteStore } from 'session-process/sqlite';

const SINGLE = Number(process.env.BENCH_SINGLE ?? 2_000); // sequential saves of one write
const BATCHES = Number(process.env.BENCH_BATCHES ?? 20); // saves of 1,000 writes
const BATCH = 1_000;
const IN_FLIGHT = 1_000;
const DUE_QUERIES = 500;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// A cart session as the supervisor stores it: ~1 KB of JSON (snapshot, items, bookkeeping).
const cart = (n: number) =>
  JSON.stringify({
    logic: 'cart',
    version: n,
    snapshot: {
      status: 'active',
      value: { shopping: 'browsing' },
      context: {
        userId: `user-${n}`,
        items: Array.from({ length: 6 }, (_, i) => ({
          sku: `SKU-${1000 + i}`,
          title: `A thing to buy, number ${i}`,
          qty: 1 + (i % 3),
          priceCents: 1999 + i * 250,
        })),
        coupon: null,
        updatedAt: 1_733_000_000_000 + n,
      },
      historyValue: {},
      children: {},
    },
    timers: [{ id: 'xstate.after.1800000.cart.idle', dueAt: 1_733_001_800_000 + n }],
    createdAt: 1_733_000_000_000,
    lastActivityAt: 1_733_000_000_000 + n,
  });

interface Row {
  store: string;
  single: string;
  p50: string;
  p99: string;
  batch: string;
  load: string;
  due: string;
  bytes: string;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

async function measure(
  label: string,
  store: SessionStore,
  bytesPerSession: (ids: string[]) => Promise<number | undefined>,
): Promise<Row> {
  // Saves of one write, one after another: the latency of a lone durable call.
  const hot = Array.from({ length: 100 }, (_, i) => `hot-${i}`);
  await store.save(hot.map((id) => write(id, 0, 0)));
  const versions = new Map(hot.map((id) => [id, 1]));
  const latencies: number[] = [];
  const singleStart = performance.now();
  for (let i = 0; i < SINGLE; i++) {
    const id = hot[i % hot.length]!;
    const v = versions.get(id)!;
    const t0 = performance.now();
    const [result] = await store.save([write(id, v, i)]);
    latencies.push(performance.now() - t0);
    if (result !== 'ok') throw new Error(`${label}: unexpected ${result}`);
    versions.set(id, v + 1);
  }
  const singleRate = SINGLE / ((performance.now() - singleStart) / 1_000);
  latencies.sort((a, b) => a - b);

  // Group commits of 1,000 new sessions.
  const ids: string[] = [];
  const batchStart = performance.now();
  for (let b = 0; b < BATCHES; b++) {
    const writes = Array.from({ length: BATCH }, (_, i) => {
      const id = `cart-${b}-${i}`;
      ids.push(id);
      return write(id, 0, b * BATCH + i);
    });
    const results = await store.save(writes);
    if (results.some((r) => r !== 'ok')) throw new Error(`${label}: conflict in a batch`);
  }
  const batchRate = (BATCHES * BATCH) / ((performance.now() - batchStart) / 1_000);

  // Loads, 1,000 in flight (restores of sessions coming back into memory).
  const loadStart = performance.now();
  for (let i = 0; i < ids.length; i += IN_FLIGHT)
    await Promise.all(ids.slice(i, i + IN_FLIGHT).map((id) => store.load(id)));
  const loadRate = ids.length / ((performance.now() - loadStart) / 1_000);

  // Wakeup scans: the 100 earliest due sessions.
  const dueStart = performance.now();
  for (let i = 0; i < DUE_QUERIES; i++) {
    const due = await store.due(Number.MAX_SAFE_INTEGER, 100);
    if (due.length !== 100) throw new Error(`${label}: due returned ${due.length}`);
  }
  const dueRate = DUE_QUERIES / ((performance.now() - dueStart) / 1_000);

  const bytes = await bytesPerSession(ids);
  return {
    store: label,
    single: fmt(singleRate),
    p50: fmt(quantile(latencies, 0.5), 3),
    p99: fmt(quantile(latencies, 0.99), 3),
    batch: fmt(batchRate),
    load: fmt(loadRate),
    due: fmt(dueRate),
    bytes: bytes === undefined ? '—' : fmt(bytes),
  };
}

// Made once, so that the timings are the stores' and not JSON.stringify's.
const carts = Array.from({ length: 1_000 }, (_, n) => cart(n));

function write(id: string, expectedVersion: number, n: number): StoreWrite {
  return {
    id,
    expectedVersion,
    version: expectedVersion + 1,
    data: carts[n % carts.length]!,
    dueAt: 1_733_001_800_000 + n,
  };
}

const rows: Row[] = [];
const notes: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'sp-store-raw-'));
try {
  rows.push(await measure('memory', memoryStore(), async () => undefined));
  for (const synchronous of ['full', 'normal'] as const) {
    const store = sqliteStore({ path: join(dir, `${synchronous}.db`), synchronous });
    rows.push(
      await measure(`sqlite (synchronous ${synchronous})`, store, async () => {
        const { bytes, sessions } = await store.stats();
        return bytes / sessions;
      }),
    );
    await store.close();
  }

  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const prefix = `sp-bench:${process.pid}:`;
    const store = redisStore({ redis, prefix });
    rows.push(
      await measure('redis', store, async (ids) => {
        // MEMORY USAGE of a sample of records, plus each session's share of the due index.
        const sample = ids.filter((_, i) => i % 100 === 0);
        let total = 0;
        for (const id of sample) total += (await redis.memory('USAGE', `${prefix}{${id}}`)) ?? 0;
        const index = (await redis.memory('USAGE', `${prefix}due`, 'SAMPLES', 0)) ?? 0;
        const sessions = await redis.zcard(`${prefix}due`);
        return total / sample.length + index / sessions;
      }),
    );
    await store.close();
    for (let cursor = '0'; ; ) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
      if (keys.length) await redis.del(...keys);
      if ((cursor = next) === '0') break;
    }
    const aof = await redis.config('GET', 'appendonly');
    notes.push(`redis ${REDIS_URL}: appendonly ${(aof as string[])[1]}`);
  } catch (err) {
    notes.push(`redis skipped: ${(err as Error).message}`);
  } finally {
    redis.disconnect();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `\nbench/store-raw — node ${process.version}, ~${fmt(cart(0).length)}-byte cart records\n`,
);
console.log(
  '| store | save ×1 (writes/s) | p50 ms | p99 ms | save ×1,000 (writes/s) | load/s (1,000 in flight) | due(100)/s | bytes/session |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows)
  console.log(
    `| ${r.store} | ${r.single} | ${r.p50} | ${r.p99} | ${r.batch} | ${r.load} | ${r.due} | ${r.bytes} |`,
  );
for (const note of notes) console.log(`\n${note}`);
