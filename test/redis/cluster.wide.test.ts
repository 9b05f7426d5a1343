import { afterEach, describe, expect, it } from 'vitest';
import { isSessionError, type SessionMessage } from 'session-process';
import { eventually, redisAvailable, TestCluster } from './clusterHelpers.js';

const available = await redisAvailable('the cluster-wide tests');

describe.skipIf(!available)('one cluster, seen as one', () => {
  let cluster: TestCluster;
  afterEach(async () => {
    await cluster?.close();
  });

  describe('read', () => {
    it('answers the owner’s current snapshot where snapshot() answers what the node last saw', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await a.sessions.start('r1');
      await b.sessions.call('r1', { type: 'inc' }); // b sees n = 1
      await a.sessions.call('r1', { type: 'inc' }); // on the owner: b does not see it
      expect(b.sessions.snapshot('r1').context.n).toBe(1);
      expect((await b.sessions.read('r1')).context.n).toBe(2);
      expect((await a.sessions.read('r1')).context.n).toBe(2);
      expect(b.sessions.count).toBe(0);
    });

    it('rejects with SESSION_NOT_FOUND for a session that does not exist', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const err = await a.sessions.read('nobody').catch((e: unknown) => e);
      expect(isSessionError(err, 'SESSION_NOT_FOUND')).toBe(true);
    });
  });

  describe('status', () => {
    it('says where a session is from any node, activating and touching nothing', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await a.sessions.start('p1');
      await a.sessions.call('p1', { type: 'inc' });
      const before = a.sessions.list()[0]!.lastActiveAt;
      await new Promise((r) => setTimeout(r, 5));
      expect(await b.sessions.status('p1')).toBe('running');
      expect(await a.sessions.status('p1')).toBe('running');
      expect(a.sessions.list()[0]!.lastActiveAt).toBe(before);
      expect(await b.sessions.status('nobody')).toBe('absent');

      // Out of every node's memory, in the store only: asking brings it back nowhere.
      expect(await a.sessions.drain()).toBe(1);
      expect(await b.sessions.status('p1')).toBe('stored');
      expect(await a.sessions.status('p1')).toBe('stored');
      expect(a.sessions.count + b.sessions.count).toBe(0);

      // Rotated away on b: every node says so for the old ID.
      await b.sessions.rename('p1', 'p2');
      expect(await a.sessions.status('p1')).toBe('rotated');
      expect(await b.sessions.status('p1')).toBe('rotated');
      expect(await a.sessions.status('p2')).toBe('running');

      await b.sessions.terminate('p2');
      expect(await a.sessions.status('p2')).toBe('absent');
    });
  });

  describe('listAll', () => {
    it('lists the sessions of every node, the same from each', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await eventually(() => a.sessions.stats().cluster.leaseHeld);
      await eventually(() => b.sessions.stats().cluster.leaseHeld);
      await a.sessions.start('l1');
      await b.sessions.start('l2');
      await a.sessions.start('l3');
      // Each node learns the others at its next renewal.
      await eventually(() => a.sessions.stats().cluster.nodes.length === 2);
      await eventually(() => b.sessions.stats().cluster.nodes.length === 2);
      const onA = await a.sessions.listAll();
      const onB = await b.sessions.listAll();
      expect(onA.total).toBe(3);
      expect(onA.rows.map((r) => r.id)).toEqual(['l1', 'l2', 'l3']);
      expect(onB).toEqual(onA);
      expect((await b.sessions.listAll({ offset: 1, limit: 1 })).rows.map((r) => r.id)).toEqual([
        'l2',
      ]);
    });
  });

  describe('drain', () => {
    it('hands every session to another node at once, losing no acknowledged call, and views follow', async () => {
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await eventually(() => a.sessions.stats().cluster.leaseHeld);
      await eventually(() => b.sessions.stats().cluster.leaseHeld);
      await eventually(() => a.sessions.stats().cluster.nodes.length === 2);
      const ids = ['d0', 'd1', 'd2', 'd3', 'd4'];
      for (const id of ids) await a.sessions.start(id);
      const seen: SessionMessage[] = [];
      b.sessions.subscribe('d0', (m) => seen.push(m));
      await new Promise((r) => setTimeout(r, 50)); // the owner forwards d0's snapshots

      // Calls keep coming through both nodes while a drains.
      const acked = new Map<string, string[]>(ids.map((id) => [id, []]));
      let stop = false;
      let failed = 0;
      const client = async (node: typeof a, tag: string) => {
        for (let i = 0; !stop; i++) {
          const id = ids[i % ids.length]!;
          const item = `${tag}${i}`;
          try {
            await node.sessions.call(id, { type: 'add', item }, { timeoutMs: 3_000 });
            acked.get(id)!.push(item);
          } catch {
            failed++;
          }
        }
      };
      const clients = [client(a, 'a'), client(b, 'b')];
      await new Promise((r) => setTimeout(r, 100));
      const t0 = performance.now();
      const handed = await a.sessions.drain();
      const drainMs = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 150));
      stop = true;
      await Promise.all(clients);

      expect(handed).toBe(5);
      expect(a.sessions.count).toBe(0);
      expect(b.sessions.count).toBe(5);
      expect(drainMs).toBeLessThan(2_000);
      // Every acknowledged item is there exactly once.
      for (const id of ids) {
        const items = (await b.sessions.read(id)).context.items as string[];
        for (const item of acked.get(id)!) expect(items.filter((x) => x === item)).toHaveLength(1);
        expect(new Set(items).size).toBe(items.length);
      }
      expect(failed).toBe(0);
      // The view on b goes on, now from b itself.
      const before = seen.length;
      await b.sessions.call('d0', { type: 'inc' });
      await eventually(() => seen.length > before);
      // The drained node still serves, through the others, and activates nothing.
      expect(await a.sessions.call('d1', { type: 'get' })).toBe(0);
      await a.sessions.ensure('fresh');
      expect(a.sessions.count).toBe(0);
      expect(await a.sessions.status('fresh')).toBe('running');
    });

    it('brings back no session it gave up when another node that last saw it as the owner sends it an operation', async () => {
      // The node drained (each session saved and given up) and still listens until it shuts
      // down: an operation from a node whose cache still names it as the owner goes where the
      // session goes, and nothing is activated on the leaving node.
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await eventually(() => a.sessions.stats().cluster.nodes.length === 2);
      await a.sessions.start('s2');
      await b.sessions.call('s2', { type: 'add', item: 'x' }); // b routes to a, its owner
      await a.sessions.drain();
      expect(a.sessions.count).toBe(0);
      const activated: string[] = [];
      a.sessions.on('start', (e) => activated.push(e.sessionId));
      expect(await b.sessions.call('s2', { type: 'add', item: 'y' })).toBe(2);
      expect(activated).toEqual([]); // nothing activated on the drained node
      await a.sessions.shutdown();
      expect((await b.sessions.read('s2')).context.items).toEqual(['x', 'y']);
    });

    it('hands on an operation that reaches it while it shuts down after the drain', async () => {
      // SIGTERM: drain, then shutdown. A request already on its way to the node (a load balancer
      // stops sending new ones) may arrive during the shutdown; it was answered
      // SESSION_NOT_FOUND there (a visitor's cart gone, for the app), seen once in a loaded
      // rolling deploy.
      cluster = new TestCluster();
      const a = cluster.node('a');
      const b = cluster.node('b');
      await eventually(() => a.sessions.stats().cluster.nodes.length === 2);
      await a.sessions.start('s1');
      await a.sessions.call('s1', { type: 'add', item: 'x' });
      await a.sessions.drain();
      const closing = a.sessions.shutdown();
      expect(await a.sessions.call('s1', { type: 'add', item: 'y' })).toBe(2);
      await closing;
      expect((await b.sessions.read('s1')).context.items).toEqual(['x', 'y']);
      // After its shutdown the node serves nothing.
      const after = await a.sessions.call('s1', { type: 'get' }).catch((e: unknown) => e);
      expect((after as { code?: string }).code).toBe('SESSION_NOT_FOUND');
    });
  });
});
