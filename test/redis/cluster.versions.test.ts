import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { isSessionError, machineVersions, reply } from 'session-process';
import { eventually, REDIS_URL, redisAvailable, TestCluster } from './clusterHelpers.js';

const available = await redisAvailable('the cluster version tests');

/** A counter at `version`; `runs` counts the events each version's actors processed. */
function counterAt(version: string, runs: Record<string, number>) {
  return setup({
    types: { context: {} as { n: number }, events: {} as { type: 'inc' } | { type: 'get' } },
  }).createMachine({
    id: 'counter',
    version,
    context: { n: 0 },
    on: {
      inc: {
        actions: [
          () => {
            runs[version] = (runs[version] ?? 0) + 1;
          },
          assign({ n: ({ context }) => context.n + 1 }),
          reply(({ context }) => context.n),
        ],
      },
      get: { actions: reply(({ context }) => context.n) },
    },
  });
}

/**
 * The logic of a node deployed at `version`, as a shop deploys one: `machineVersions` with every
 * version up to it (the counter's context is the same in each, so no migration is needed).
 * Older code refuses a record a newer version wrote by itself (SESSION_VERSION_AHEAD).
 */
const deployedAt = (version: '1' | '2', runs: Record<string, number>) =>
  version === '1'
    ? machineVersions([counterAt('1', runs)])
    : machineVersions([counterAt('1', runs), counterAt('2', runs)]);

describe.skipIf(!available)('version-aware activation', () => {
  let cluster: TestCluster;
  afterEach(async () => {
    await cluster?.close();
  });

  const nodes = (runs: Record<string, number>) => {
    const v1 = cluster.node('v1', { supervisor: { logic: deployedAt('1', runs) } });
    const v2 = cluster.node('v2', { supervisor: { logic: deployedAt('2', runs) } });
    return { v1, v2 };
  };

  it('sends a session a newer version wrote to a node that holds it, never running it on older code', async () => {
    cluster = new TestCluster();
    const runs: Record<string, number> = {};
    const { v1, v2 } = nodes(runs);
    const other = cluster.node('v2b', { supervisor: { logic: deployedAt('2', runs) } });
    await eventually(() => v1.sessions.stats().cluster.leaseHeld);
    await eventually(() => other.sessions.stats().cluster.leaseHeld);
    await v2.sessions.start('w1');
    expect(await v2.sessions.call('w1', { type: 'inc' })).toBe(1);
    await v2.sessions.shutdown(); // stored at version 2, owned by nobody
    expect(await v1.sessions.status('w1')).toBe('stored');

    // The v1 node is asked first: it must not run it, and it does not answer with an error.
    expect(await v1.sessions.call('w1', { type: 'inc' })).toBe(2);
    expect(v1.sessions.count).toBe(0);
    expect(other.sessions.count).toBe(1);
    expect(runs['1']).toBeUndefined();
    expect(await v1.sessions.read('w1')).toMatchObject({ context: { n: 2 } });
  });

  it('fails with SESSION_VERSION_AHEAD when no live node holds the version, the record untouched', async () => {
    cluster = new TestCluster();
    const runs: Record<string, number> = {};
    const { v1, v2 } = nodes(runs);
    await eventually(() => v2.sessions.stats().cluster.leaseHeld);
    await v2.sessions.start('w2');
    await v2.sessions.call('w2', { type: 'inc' });
    await v2.sessions.shutdown();
    const before = await cluster.admin.hgetall(`${cluster.prefix}s:w2`);

    const err = await v1.sessions.call('w2', { type: 'inc' }).catch((e: unknown) => e);
    expect(isSessionError(err, 'SESSION_VERSION_AHEAD')).toBe(true);
    expect((err as { retryAfterMs?: number }).retryAfterMs).toBeUndefined();
    expect(await cluster.admin.hgetall(`${cluster.prefix}s:w2`)).toEqual(before);
    expect(runs['1']).toBeUndefined();
    // Nobody keeps it: a node holding version 2 takes it when one comes.
    expect(await v1.sessions.status('w2')).toBe('stored');
  });

  it('asks again from a node holding the version while the owner it finds is older code giving the session up', async () => {
    // An older node takes an unowned session to try it, finds its record too new and gives it
    // up again. A node holding the version that reached it meanwhile answered its
    // SESSION_VERSION_AHEAD as its own (1-2 adds in 3 of 6 loaded rolling runs).
    cluster = new TestCluster();
    const runs: Record<string, number> = {};
    const { v1, v2 } = nodes(runs);
    await eventually(() => v1.sessions.stats().cluster.leaseHeld);
    await eventually(() => v2.sessions.stats().cluster.leaseHeld);
    const writer = cluster.node('v2w', { supervisor: { logic: deployedAt('2', runs) } });
    await writer.sessions.start('w4');
    await writer.sessions.call('w4', { type: 'inc' });
    await writer.sessions.shutdown();
    // The older node, live and owning the session: it answers what older code answers, twice
    // (to v1, then to the node v1 hands the call to), gives the session up at the second, and
    // answers `moved` after that.
    const p = cluster.prefix;
    const ghost = new Redis(REDIS_URL);
    try {
      await new Promise((resolve) => ghost.once('ready', resolve));
      await cluster.admin.set(`${p}n:old`, 'inc0', 'PX', 10_000);
      await cluster.admin.set(`${p}o:w4`, 'old|inc0|1');
      let asked = 0;
      ghost.on('message', (_channel: string, raw: string) => {
        const m = JSON.parse(raw) as { k: string; r: string; f: string };
        if (m.k !== 'q') return;
        asked++;
        const ahead = {
          code: 'SESSION_VERSION_AHEAD',
          name: 'SessionVersionAheadError',
          message: "Session 'w4' was written by version 2",
          sessionId: 'w4',
        };
        const body = asked <= 2 ? { err: ahead } : { m: 1 };
        void (asked === 2 ? cluster.admin.del(`${p}o:w4`) : Promise.resolve()).then(() =>
          cluster.admin.publish(`${p}c:${m.f}`, JSON.stringify({ ...body, k: 'p', r: m.r })),
        );
      });
      await ghost.subscribe(`${p}c:old`);
      expect(await v1.sessions.call('w4', { type: 'inc' })).toBe(2);
      expect(asked).toBeGreaterThanOrEqual(2);
      expect(runs['1']).toBeUndefined();
      expect(await v2.sessions.read('w4')).toMatchObject({ context: { n: 2 } });
    } finally {
      ghost.disconnect();
    }
  });

  it('says when to retry while a node holding the version is alive but does not answer', async () => {
    cluster = new TestCluster();
    const runs: Record<string, number> = {};
    const { v1, v2 } = nodes(runs);
    await eventually(() => v2.sessions.stats().cluster.leaseHeld);
    await v2.sessions.start('w3');
    await v2.sessions.call('w3', { type: 'inc' });
    await v2.sessions.shutdown();
    // A node that holds version 2, lives (its lease key, its channel) and answers nothing: a
    // process stuck in a long pause.
    const ghost = new Redis(REDIS_URL);
    try {
      await new Promise((resolve) => ghost.once('ready', resolve));
      await ghost.subscribe(`${cluster.prefix}nq:ghost`);
      await cluster.admin.set(`${cluster.prefix}n:ghost`, 'x', 'PX', 10_000);
      await cluster.admin.hset(`${cluster.prefix}nv`, 'ghost', JSON.stringify({ default: ['2'] }));
      const err = await v1.sessions
        .call('w3', { type: 'inc' }, { timeoutMs: 500 })
        .catch((e: unknown) => e);
      expect(isSessionError(err, 'SESSION_VERSION_AHEAD')).toBe(true);
      expect((err as { retryAfterMs?: number }).retryAfterMs).toBeGreaterThanOrEqual(1_000);
      expect(runs['1']).toBeUndefined();
    } finally {
      ghost.disconnect();
    }
  });
});
