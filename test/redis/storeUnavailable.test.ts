import { Redis } from 'ioredis';
import { isSessionError } from 'session-process';
import { type RedisSessionStore, redisStore } from 'session-process/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, PrivateRedis, redisServerAvailable } from './storeHelpers.js';

// Outages are played on a private redis-server (SIGKILL, SIGSTOP, CLIENT PAUSE), never on the
// shared one.
const available = redisServerAvailable();
const write = (id: string, expectedVersion: number) => ({
  id,
  expectedVersion,
  version: expectedVersion + 1,
  data: `{"v":${expectedVersion + 1}}`,
  dueAt: null,
});

/** Runs `op`, expects STORE_UNAVAILABLE, and returns how long the rejection took (ms). */
async function unavailable(op: Promise<unknown>): Promise<number> {
  const started = performance.now();
  const err = await op.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isSessionError(err, 'STORE_UNAVAILABLE'), String(err)).toBe(true);
  return performance.now() - started;
}

/** A client as ioredis makes it by default: offline queue on, retrying for ever. */
function defaultClient(port: number): Redis {
  const redis = new Redis(port, '127.0.0.1');
  redis.on('error', () => {});
  return redis;
}

describe.skipIf(!available)('redisStore when Redis is unavailable', () => {
  it('rejects every operation within commandTimeoutMs when nothing listens', async () => {
    const redis = defaultClient(await freePort());
    const store = redisStore({ redis, commandTimeoutMs: 200 });
    for (const op of [
      store.load('a'),
      store.save([write('a', 0)]),
      store.delete('a'),
      store.due(Date.now(), 10),
    ])
      expect(await unavailable(op)).toBeLessThan(1_000);
    await store.close();
    redis.disconnect();
  });

  it('rejects at once when the client has ended, and closes a URL client that never connected', async () => {
    const redis = defaultClient(await freePort());
    redis.disconnect();
    const store = redisStore({ redis, commandTimeoutMs: 5_000 });
    expect(await unavailable(store.load('a'))).toBeLessThan(100);
    const owned = redisStore({
      redis: `redis://127.0.0.1:${await freePort()}`,
      commandTimeoutMs: 200,
    });
    expect(await unavailable(owned.load('a'))).toBeLessThan(1_000);
    const closing = performance.now();
    await owned.close();
    expect(performance.now() - closing).toBeLessThan(500);
    const status = owned.redis.status;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(owned.redis.status).toBe(status); // no reconnect attempt after close
  });

  describe('on a Redis that fails and comes back', () => {
    let server: PrivateRedis;
    let redis: Redis;
    let store: RedisSessionStore;

    beforeAll(async () => {
      server = await PrivateRedis.start();
      redis = defaultClient(server.port);
      store = redisStore({ redis, commandTimeoutMs: 300 });
    });
    afterAll(async () => {
      await store?.close();
      redis?.disconnect();
      await server?.kill();
    });

    it('rejects while Redis is paused (CLIENT PAUSE), then works; a write sent before applies once', async () => {
      expect(await store.save([write('p', 0)])).toEqual(['ok']);
      const admin = new Redis(server.port, '127.0.0.1');
      await admin.client('PAUSE', 1_000, 'ALL');
      const took = await unavailable(store.save([write('p', 1)]));
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(800);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // The write that timed out had reached Redis and ran when the pause ended: a rejected save
      // may have applied. Its compare-and-set is what makes the retry below safe.
      expect((await store.load('p'))?.version).toBe(2);
      expect(await store.save([write('p', 1)])).toEqual(['conflict']);
      admin.disconnect();
    });

    it('rejects while the Redis process is stopped (SIGSTOP: no reset, no reply), then works', async () => {
      server.process!.kill('SIGSTOP');
      try {
        expect(await unavailable(store.load('p'))).toBeLessThan(800);
        expect(await unavailable(store.due(Date.now(), 10))).toBeLessThan(800);
      } finally {
        server.process!.kill('SIGCONT');
      }
      expect((await store.load('p'))?.version).toBe(2);
    });

    it('rejects fast while Redis is down, does not crash, and recovers when it is back', async () => {
      await server.kill();
      for (let i = 0; i < 3; i++) expect(await unavailable(store.load('p'))).toBeLessThan(800);
      expect(await unavailable(store.save([write('q', 0)]))).toBeLessThan(800);
      await server.start(); // same port, empty (no persistence)
      let recovered = false;
      for (let i = 0; i < 50 && !recovered; i++) {
        try {
          expect(await store.save([write('q', 0)])).toEqual(['ok']);
          recovered = true;
        } catch (err) {
          expect(isSessionError(err, 'STORE_UNAVAILABLE')).toBe(true);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      expect(recovered).toBe(true);
      expect((await store.load('q'))?.version).toBe(1);
    });
  });
});
