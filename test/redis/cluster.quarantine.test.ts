import { isSessionError } from 'session-process';
import { afterEach, describe, expect, it } from 'vitest';
import { redisAvailable, TestCluster } from './clusterHelpers.js';

const available = await redisAvailable('the cluster quarantine test');

describe.skipIf(!available)('redisCluster: a record that cannot be restored', () => {
  let cluster: TestCluster;
  afterEach(async () => {
    await cluster?.close();
  });

  it('is quarantined in Redis, reported once, and listed by every node', async () => {
    cluster = new TestCluster();
    const a = cluster.node('a');
    await a.sessions.start('s1');
    expect(await a.sessions.call('s1', { type: 'inc' })).toBe(1);
    await a.sessions.shutdown(); // saved in Redis, its lease released
    const record = `${cluster.prefix}s:s1`;
    await cluster.admin.hset(record, 'd', '{"format":1,"id":"s1",'); // corrupt

    const b = cluster.node('b');
    const c = cluster.node('c');
    const restoreFailures = (errors: unknown[]) =>
      errors.filter((e) => isSessionError(e, 'SESSION_RESTORE_FAILED')).length;
    for (let i = 0; i < 3; i++)
      await expect(b.sessions.call('s1', { type: 'inc' })).rejects.toMatchObject({
        code: 'SESSION_RESTORE_FAILED',
      });
    expect(await cluster.admin.hget(record, 'q')).toEqual(expect.any(String));
    expect(await cluster.admin.zscore(`${cluster.prefix}due`, 's1')).toBeNull();
    const rows = [
      { id: 's1', quarantinedAt: expect.any(Number), reason: expect.stringMatching(/JSON/) },
    ];
    expect(await b.sessions.quarantined()).toEqual(rows);
    expect(await c.sessions.quarantined()).toEqual(rows);
    expect(restoreFailures(b.errors) + restoreFailures(c.errors)).toBe(1);

    // Any node deletes it for good.
    await c.sessions.forget('s1');
    expect(await cluster.admin.exists(record)).toBe(0);
    expect(await b.sessions.quarantined()).toEqual([]);
  });

  it('is deleted after quarantineRetentionMs', async () => {
    cluster = new TestCluster();
    const a = cluster.node('a');
    await a.sessions.start('s2');
    await a.sessions.shutdown();
    const record = `${cluster.prefix}s:s2`;
    await cluster.admin.hset(record, 'd', 'not json');
    const b = cluster.node('b', {
      supervisor: { quarantineRetentionMs: 200, wakeIntervalMs: 50 },
    });
    await expect(b.sessions.call('s2', { type: 'inc' })).rejects.toMatchObject({
      code: 'SESSION_RESTORE_FAILED',
    });
    await expect.poll(() => cluster.admin.exists(record), { timeout: 5_000 }).toBe(0);
  });
});
