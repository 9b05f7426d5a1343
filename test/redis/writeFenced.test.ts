import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionSupervisor, isSessionError } from 'session-process';
import { isClusterError, redisStore } from 'session-process/redis';
import { counterMachine, eventually } from './clusterHelpers.js';
import { deleteKeys, REDIS_URL, redisAvailable } from './storeHelpers.js';

const available = await redisAvailable();
const base = `sp-test:fenced:${process.pid}:`;
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  if (!redis) return;
  await deleteKeys(redis, base);
  redis.disconnect();
});

describe.skipIf(!available)('WRITE_FENCED', () => {
  it('reports a write another process made first as a ClusterError WRITE_FENCED, on a single-node Redis store', async () => {
    const prefix = `${base}single:`;
    const errors: { err: unknown; sessionId: string | undefined }[] = [];
    const make = () =>
      createSessionSupervisor({
        logic: counterMachine,
        durability: 'durable',
        store: redisStore({ redis, prefix }),
        onError: (err, info) => errors.push({ err, sessionId: info.sessionId }),
      });
    const one = make();
    const two = make();
    try {
      await one.start('w1');
      await one.call('w1', { type: 'inc' });
      // Another process takes the same record and writes it.
      expect(await two.restore('w1')).toBe(true);
      await two.call('w1', { type: 'inc' });
      // The first one's next write finds another version: it leaves the session.
      const late = await one.call('w1', { type: 'inc' }).catch((e: unknown) => e);
      expect(isSessionError(late, 'SESSION_ENDED')).toBe(true);
      await eventually(() => errors.length > 0);
      const { err, sessionId } = errors[0]!;
      expect(isClusterError(err, 'WRITE_FENCED')).toBe(true);
      expect(err).toMatchObject({
        code: 'WRITE_FENCED',
        sessionId: 'w1',
        message: 'session w1 was written elsewhere; leaving it',
      });
      expect(sessionId).toBe('w1');
      expect(one.started('w1')).toBe(false);
    } finally {
      await one.shutdown();
      await two.shutdown();
    }
  });
});
