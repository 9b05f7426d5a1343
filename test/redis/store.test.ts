import { Redis } from 'ioredis';
import { redisStore } from 'session-process/redis';
import { storeConformance } from 'session-process/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deleteKeys, REDIS_URL, redisAvailable } from './storeHelpers.js';

const available = await redisAvailable();
const base = `sp-test:store:${process.pid}:`;
let n = 0;
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  if (!redis) return;
  await deleteKeys(redis, base);
  redis.disconnect();
});

const dispose = async (store: unknown) =>
  deleteKeys(redis, (store as ReturnType<typeof redisStore>).prefix);
const vitest = { describe, it, afterEach };

describe.skipIf(!available)('redisStore', () => {
  const prefixOf = (store: unknown) => (store as ReturnType<typeof redisStore>).prefix;
  storeConformance('redisStore', () => redisStore({ redis, prefix: `${base}${n++}:` }), {
    vitest,
    dispose,
    reopen: (store) => redisStore({ redis, prefix: prefixOf(store) }),
  });
  storeConformance(
    "redisStore (dueIndex 'hint', as on Redis Cluster)",
    () => redisStore({ redis, prefix: `${base}${n++}:`, dueIndex: 'hint' }),
    {
      vitest,
      dispose,
      reopen: (store) => redisStore({ redis, prefix: prefixOf(store), dueIndex: 'hint' }),
    },
  );

  const prefix = () => `${base}${n++}:`;
  const write = (id: string, expectedVersion: number, dueAt: number | null) => ({
    id,
    expectedVersion,
    version: expectedVersion + 1,
    data: `{"v":${expectedVersion + 1}}`,
    dueAt,
  });

  it('keeps a session in one hash under a hash-tagged key, and its due time in a sorted set', async () => {
    const p = prefix();
    const store = redisStore({ redis, prefix: p });
    await store.save([write('abc', 0, 1_500)]);
    expect(await redis.hgetall(`${p}{abc}`)).toEqual({ v: '1', t: '1500', d: '{"v":1}' });
    expect(await redis.zscore(`${p}due`, 'abc')).toBe('1500');
    await store.save([write('abc', 1, null)]);
    expect(await redis.hgetall(`${p}{abc}`)).toEqual({ v: '2', d: '{"v":2}' });
    expect(await redis.zscore(`${p}due`, 'abc')).toBeNull();
    await store.save([write('abc', 2, 10)]);
    await store.delete('abc');
    expect(await redis.exists(`${p}{abc}`, `${p}due`)).toBe(0);
    await store.close();
  });

  it('sends a batch as script calls by SHA, pipelined', async () => {
    const p = prefix();
    const store = redisStore({ redis, prefix: p });
    await store.save([write('warm', 0, null)]); // the first call per connection is an EVAL
    const spy = new Redis(REDIS_URL);
    const monitor = await spy.monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[3]?.startsWith(p)) seen.push(args[0]!.toLowerCase());
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.save(Array.from({ length: 20 }, (_, i) => write(`p${i}`, 0, i)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    monitor.disconnect();
    spy.disconnect();
    expect(seen).toEqual(Array.from({ length: 20 }, () => 'evalsha'));
    await store.close();
  });

  it('does not quit a client it was given', async () => {
    const own = new Redis(REDIS_URL);
    const store = redisStore({ redis: own, prefix: prefix() });
    await store.load('x');
    await store.close();
    expect(await own.ping()).toBe('PONG');
    own.disconnect();
  });

  it('creates a client from a URL and quits it on close', async () => {
    const store = redisStore({ redis: REDIS_URL, prefix: prefix() });
    expect(await store.save([write('u', 0, null)])).toEqual(['ok']);
    expect((await store.load('u'))?.version).toBe(1);
    await store.close();
    expect(store.redis.status).toBe('end');
  });

  describe("dueIndex 'hint'", () => {
    it('repairs index entries left stale by an interrupted write, without losing a wakeup', async () => {
      const p = prefix();
      const store = redisStore({ redis, prefix: p, dueIndex: 'hint' });
      await store.save([write('later', 0, 5_000), write('cleared', 0, 100), write('gone', 0, 200)]);
      // What a process that died between the steps of a write leaves behind: entries earlier
      // than their records (the index is lowered before each write), and one with no record.
      await redis.zadd(`${p}due`, 50, 'later');
      await redis.hdel(`${p}{cleared}`, 't');
      await redis.del(`${p}{gone}`);
      await store.save([write('due', 0, 300)]);
      expect(await store.due(1_000, 1)).toEqual([{ id: 'due', dueAt: 300 }]);
      expect(await redis.zscore(`${p}due`, 'later')).toBe('5000');
      expect(await redis.zscore(`${p}due`, 'cleared')).toBeNull();
      expect(await redis.zscore(`${p}due`, 'gone')).toBeNull();
      expect(await store.due(10_000, 10)).toEqual([
        { id: 'due', dueAt: 300 },
        { id: 'later', dueAt: 5_000 },
      ]);
      await store.close();
    });
  });
});
