import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import {
  EventNotAcceptedError,
  isSessionError,
  SessionAlreadyStartedError,
  SessionNotFoundError,
  type SessionMessage,
} from 'session-process';
import { isClusterError, type LeaseEvent } from 'session-process/redis';
import { eventually, redisAvailable, TestCluster } from './clusterHelpers.js';

const available = await redisAvailable('the cluster tests');

describe.skipIf(!available)('redisCluster', () => {
  let cluster: TestCluster;
  afterEach(async () => {
    await cluster?.close();
  });

  describe('routing', () => {
    it('serves a call through a node that does not own the session', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await a.sessions.start('s1');
      expect(await a.sessions.call('s1', { type: 'inc' })).toBe(1);
      expect(await b.sessions.call('s1', { type: 'inc' })).toBe(2);
      expect(await b.sessions.call('s1', { type: 'get' })).toBe(2);
      expect(a.sessions.count).toBe(1);
      expect(b.sessions.count).toBe(0);
    });

    it('activates an unowned session on the first node that needs it', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await b.sessions.ensure('s2');
      expect(b.sessions.count).toBe(1);
      await a.sessions.ensure('s2');
      expect(a.sessions.count).toBe(0);
      expect(await a.sessions.call('s2', { type: 'inc' })).toBe(1);
    });

    it('delivers casts across nodes in the order they were sent', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await a.sessions.start('s3');
      await eventually(() => b.sessions.started('s3'));
      for (let i = 0; i < 5; i++) b.sessions.cast('s3', { type: 'add', item: `i${i}` });
      await eventually(
        async () =>
          (await b.sessions.call<number>('s3', { type: 'get' })) === 0 &&
          a.sessions.snapshot('s3').context.items.length === 5,
      );
      expect(a.sessions.snapshot('s3').context.items).toEqual(['i0', 'i1', 'i2', 'i3', 'i4']);
    });

    it('rebuilds a remote error as the same SessionError subclass', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await a.sessions.start('s4');
      const notAccepted = (await b.sessions
        .call('s4', { type: 'nope' })
        .catch((e: unknown) => e)) as EventNotAcceptedError;
      expect(notAccepted).toBeInstanceOf(EventNotAcceptedError);
      expect(isSessionError(notAccepted, 'EVENT_NOT_ACCEPTED')).toBe(true);
      expect(notAccepted.sessionId).toBe('s4');
      const again = await b.sessions.start('s4').catch((e) => e);
      expect(again).toBeInstanceOf(SessionAlreadyStartedError);
      const missing = (await b.sessions
        .call('nobody', { type: 'get' })
        .catch((e: unknown) => e)) as SessionNotFoundError;
      expect(missing).toBeInstanceOf(SessionNotFoundError);
      expect(missing.message).toBe("Session 'nobody' was not found");
    });

    it('answers started, touch and snapshot on every node', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await a.sessions.start('s5');
      await eventually(() => b.sessions.started('s5'));
      expect(b.sessions.touch('s5')).toBe(true);
      expect(b.sessions.touch('unknown')).toBe(false);
      await b.sessions.call('s5', { type: 'inc' });
      expect(b.sessions.snapshot('s5').context.n).toBe(1);
      await b.sessions.terminate('s5');
      expect(a.sessions.started('s5')).toBe(false);
      await eventually(() => !b.sessions.started('s5'));
      // Its record went with it: nothing brings it back.
      await eventually(async () => (await cluster.admin.exists(`${cluster.prefix}s:s5`)) === 0);
      expect(await cluster.admin.exists(`${cluster.prefix}o:s5`)).toBe(0);
      const gone = await b.sessions.call('s5', { type: 'get' }).catch((e: unknown) => e);
      expect(isSessionError(gone, 'SESSION_NOT_FOUND')).toBe(true);
    });

    it('applies a request ID once and answers its repeat with the first reply', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await a.sessions.start('s6');
      await b.sessions.call('s6', { type: 'get' }); // b's subscriber is up
      const replies: unknown[] = [];
      const { Redis } = await import('ioredis');
      const sub = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
      await sub.subscribe(`${cluster.prefix}c:probe`);
      sub.on('message', (_c, m) => replies.push(JSON.parse(m)));
      const req = {
        k: 'q',
        r: 'rid-1',
        f: 'probe',
        a: 1,
        op: 'call',
        id: 's6',
        event: { type: 'inc' },
      };
      await cluster.admin.publish(`${cluster.prefix}c:a`, JSON.stringify(req));
      await cluster.admin.publish(`${cluster.prefix}c:a`, JSON.stringify({ ...req, a: 2 }));
      await eventually(() => replies.length === 2);
      expect(replies[0]).toEqual(replies[1]);
      expect((replies[0] as { v: number }).v).toBe(1);
      expect(await b.sessions.call('s6', { type: 'get' })).toBe(1);
      sub.disconnect();
    });
    it('resolves a remote call with `until` on the first snapshot that satisfies it', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await a.sessions.start('u1');
      await eventually(() => b.sessions.started('u1'));
      const done = b.sessions.call('u1', { type: 'inc' }, { until: (s) => s.context.n >= 3 });
      await new Promise((r) => setTimeout(r, 30));
      a.sessions.cast('u1', { type: 'inc' });
      a.sessions.cast('u1', { type: 'inc' });
      expect(await done).toMatchObject({ context: { n: 3 } });
    });

    it('renames a session from a node that does not own it', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await a.sessions.start('r1');
      await a.sessions.call('r1', { type: 'inc' });
      const onB: SessionMessage[] = [];
      await eventually(() => b.sessions.started('r1'));
      b.sessions.subscribe('r1', (m) => onB.push(m));
      await eventually(() => a.sessions.stats().subscribers === 1);
      await b.sessions.rename('r1', 'r2');
      // Whoever followed the old ID on another node loses it too.
      await eventually(() => onB.length === 1);
      expect(onB).toEqual([{ type: 'ended', reason: 'rotated' }]);
      expect(await b.sessions.call('r2', { type: 'get' })).toBe(1);
      expect(a.sessions.started('r1')).toBe(false);
      await eventually(() => !b.sessions.started('r1') && b.sessions.started('r2'));
      const err = await b.sessions.call('r1', { type: 'get' }).catch((e: unknown) => e);
      expect(isSessionError(err)).toBe(true);
    });
    it('answers a retry that reaches a new owner after a failover with the first reply, without applying it again', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a', {}, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
      const b = cluster.node('b');
      await a.sessions.start('x1');
      await b.sessions.call('x1', { type: 'inc' });
      const replies: { v?: unknown; m?: 1 }[] = [];
      const sub = cluster.admin.duplicate();
      await sub.subscribe(`${cluster.prefix}c:probe`);
      sub.on('message', (_c, m) => replies.push(JSON.parse(m)));
      const req = {
        k: 'q',
        r: 'rid-x',
        f: 'probe',
        a: 1,
        op: 'call',
        id: 'x1',
        event: { type: 'inc' },
      };
      await cluster.admin.publish(`${cluster.prefix}c:a`, JSON.stringify(req));
      await eventually(() => replies.length === 1);
      expect(replies[0]!.v).toBe(2);
      // a dies before the caller heard back; the caller retries on the new owner.
      await cluster.cut(a);
      await b.sessions.ensure('x1');
      await cluster.admin.publish(`${cluster.prefix}c:b`, JSON.stringify({ ...req, a: 2 }));
      await eventually(() => replies.length === 2);
      expect(replies[1]!.v).toBe(2);
      expect(await b.sessions.call('x1', { type: 'get' })).toBe(2);
      sub.disconnect();
    });
    it('rejects with STORE_UNAVAILABLE within the call timeout when the node cannot reach Redis', async () => {
      cluster = new TestCluster();
      const redis = new Redis({
        host: '127.0.0.1',
        port: 1,
        maxRetriesPerRequest: 0,
        retryStrategy: () => 200,
      });
      const z = cluster.node('z', { redis, supervisor: { callTimeoutMs: 300 } });
      const t0 = performance.now();
      const err = await z.sessions.call('u9', { type: 'get' }).catch((e: unknown) => e);
      expect(isSessionError(err, 'STORE_UNAVAILABLE')).toBe(true);
      expect(performance.now() - t0).toBeLessThan(1_000);
    });
  });

  describe('views', () => {
    it('gives subscribers on another node the snapshots in version order and ended once', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await a.sessions.start('v1');
      await eventually(() => b.sessions.started('v1'));
      const got: SessionMessage[] = [];
      b.sessions.subscribe('v1', (m) => got.push(m));
      await eventually(() => a.sessions.stats().subscribers === 1);
      for (let i = 0; i < 10; i++) a.sessions.cast('v1', { type: 'inc' });
      await eventually(() => got.length === 10);
      const versions = got.map((m) => (m.type === 'snapshot' ? m.version : -1));
      expect(versions).toEqual([...versions].sort((x, y) => x - y));
      expect(got.at(-1)).toMatchObject({ type: 'snapshot', snapshot: { context: { n: 10 } } });
      await a.sessions.terminate('v1');
      await eventually(() => got.length === 11);
      expect(got.at(-1)).toEqual({ type: 'ended', reason: 'terminated' });
      await new Promise((r) => setTimeout(r, 50));
      expect(got.filter((m) => m.type === 'ended')).toHaveLength(1);
    });

    it('keeps a view on a third node going across a failover, never older after newer', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a', {}, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
      const b = cluster.node('b');
      const c = cluster.node('c');
      await a.sessions.start('v3');
      await eventually(() => c.sessions.started('v3'));
      const got: SessionMessage[] = [];
      c.sessions.subscribe('v3', (m) => got.push(m));
      await eventually(() => a.sessions.stats().subscribers === 1);
      for (let i = 0; i < 3; i++) await a.sessions.call('v3', { type: 'inc' });
      await eventually(() => got.length === 3);
      await cluster.cut(a);
      // The view's node watches again at its next renewal: the session comes back on some node.
      await eventually(() => b.sessions.count + c.sessions.count === 1, 3_000);
      for (let i = 0; i < 3; i++) await b.sessions.call('v3', { type: 'inc' });
      await eventually(() => got.some((m) => m.type === 'snapshot' && m.snapshot.context.n === 6));
      const versions = got.map((m) => (m.type === 'snapshot' ? m.version : -1));
      for (let i = 1; i < versions.length; i++)
        expect(versions[i]).toBeGreaterThan(versions[i - 1]!);
      const ns = got.map((m) => (m.type === 'snapshot' ? m.snapshot.context.n : -1));
      expect(ns).toEqual([...ns].sort((x, y) => x - y));
      expect(got.every((m) => m.type === 'snapshot')).toBe(true);
    });

    it('notifies a selected value only when it changes', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await a.sessions.start('v2');
      await eventually(() => b.sessions.started('v2'));
      const got: unknown[] = [];
      b.sessions.subscribe('v2', (m) => m.type === 'snapshot' && got.push(m.selected), {
        select: (s) => s.context.items.length,
      });
      await eventually(() => a.sessions.stats().subscribers === 1);
      a.sessions.cast('v2', { type: 'inc' });
      a.sessions.cast('v2', { type: 'add', item: 'x' });
      a.sessions.cast('v2', { type: 'inc' });
      await eventually(() => got.length === 1);
      await new Promise((r) => setTimeout(r, 50));
      expect(got).toEqual([1]);
    });
  });

  describe('leases', () => {
    it('lists the live nodes in stats().cluster', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      cluster.node('b');
      cluster.node('c');
      await eventually(() => a.sessions.stats().cluster.nodes.length === 3);
      expect(a.sessions.stats().cluster).toMatchObject({
        nodeId: 'a',
        nodes: ['a', 'b', 'c'],
        leaseHeld: true,
      });
    });

    it('moves a session to another node at once when its owner is gone from Redis', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a', {}, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
      const b = cluster.node('b');
      const leaseA: LeaseEvent[] = [];
      const leaseB: LeaseEvent[] = [];
      a.sessions.on('lease', (e) => leaseA.push(e));
      b.sessions.on('lease', (e) => leaseB.push(e));
      await a.sessions.start('f1');
      await b.sessions.call('f1', { type: 'inc' });
      const tokenBefore = await cluster.admin.get(`${cluster.prefix}o:f1`);
      const t0 = performance.now();
      await cluster.cut(a);
      await b.sessions.ensure('f1');
      const elapsed = performance.now() - t0;
      // Nothing listens on a's channel any more: b does not wait for the lease to lapse.
      expect(elapsed).toBeLessThan(300);
      expect(b.sessions.count).toBe(1);
      // From its last saved snapshot.
      expect(await b.sessions.call('f1', { type: 'get' })).toBe(1);
      const tokenAfter = await cluster.admin.get(`${cluster.prefix}o:f1`);
      expect(tokenAfter).not.toBe(tokenBefore);
      expect(tokenAfter?.startsWith('b|')).toBe(true);
      expect(
        leaseB.some(
          (e) => e.type === 'takeover' && e.sessionId === 'f1' && e.previousOwner === 'a',
        ),
      ).toBe(true);
      // The cut-off node stopped its session by itself, before b could take it.
      await eventually(() => a.sessions.count === 0);
      expect(leaseA.some((e) => e.type === 'lose')).toBe(true);
      expect(a.errors.some((e) => isClusterError(e, 'LEASE_LOST'))).toBe(true);
    });

    it('stops the sessions of a node that cannot renew before another node may take them', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a', {}, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
      const b = cluster.node('b');
      let lostAt = 0;
      let takenAt = 0;
      a.sessions.on('lease', (e) => {
        if (e.type === 'lose') lostAt = performance.now();
      });
      b.sessions.on('lease', (e) => {
        if (e.type === 'takeover') takenAt = performance.now();
      });
      await a.sessions.start('p1');
      await b.sessions.call('p1', { type: 'inc' });
      const t0 = performance.now();
      // a still hears requests but cannot renew: as a paused or partitioned node. It answers
      // until its own deadline, then stops the session; b takes it when the lease has lapsed.
      await cluster.cut(a, true);
      let n = 0;
      await eventually(async () => {
        n = await b.sessions.call<number>('p1', { type: 'inc' });
        return takenAt > 0;
      });
      expect(performance.now() - t0).toBeLessThan(600 + 300);
      expect(lostAt).toBeGreaterThan(0);
      expect(takenAt).toBeGreaterThan(lostAt);
      expect(a.sessions.count).toBe(0);
      expect(b.sessions.count).toBe(1);
      // Nothing acknowledged was lost on the way (durable: every inc was saved before its answer).
      expect(await b.sessions.call('p1', { type: 'get' })).toBe(n);
    });

    it('fires the timer of a session whose owner died on another node, at its due time', async () => {
      cluster = new TestCluster();
      const timed = setup({}).createMachine({
        initial: 'waiting',
        states: { waiting: { after: { 900: 'done' } }, done: {} },
      });
      const options = { supervisor: { logic: timed, passivateAfterMs: 100, wakeIntervalMs: 50 } };
      const a = cluster.node('a', options, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
      const b = cluster.node('b', options);
      await a.sessions.start('t1');
      const t0 = performance.now();
      await eventually(() => a.sessions.count === 0); // passivated: only in the store now
      await cluster.cut(a);
      // Nobody asks for it: b's waker finds it due, takes it from the dead owner and runs it.
      await eventually(() => b.sessions.count === 1, 3_000);
      await eventually(() => b.sessions.snapshot('t1').value === 'done', 3_000);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(850);
    });

    it('detects that Redis lost its data, reports it and fences its sessions', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const lease: LeaseEvent[] = [];
      a.sessions.on('lease', (e) => lease.push(e));
      await a.sessions.start('d1');
      await a.sessions.call('d1', { type: 'inc' });
      // What a Redis restarted without AOF looks like: every key gone.
      const keys = await cluster.admin.keys(`${cluster.prefix}*`);
      await cluster.admin.del(...keys);
      await eventually(() => a.errors.some((e) => isClusterError(e, 'REDIS_DATA_LOSS')));
      expect(a.sessions.count).toBe(0);
      expect(lease.find((e) => e.type === 'data-loss')).toMatchObject({ nodeId: 'a', sessions: 1 });
      // The node comes back under a new epoch and serves again, once every node that has not
      // noticed yet has passed its own deadline (leaseMs): no session starts beside a live copy.
      const t0 = performance.now();
      await a.sessions.ensure('d1');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(500);
      expect(await a.sessions.call('d1', { type: 'get' })).toBe(0);
    });
  });
});
