import { afterEach, describe, expect, it } from 'vitest';
import { isSessionError } from 'session-process';
import { eventually, redisAvailable, TestCluster } from './clusterHelpers.js';

const available = await redisAvailable('the cluster fault-injection tests');

/** Blocks the event loop, as a long GC pause or CPU starvation does. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

const LEASE_MS = 300;

/** The items of a session, from its stored record (what survives whichever node runs it). */
async function storedItems(cluster: TestCluster, id: string): Promise<string[]> {
  const data = await cluster.admin.hget(`${cluster.prefix}s:${id}`, 'd');
  return (JSON.parse(data!) as { snapshot: { context: { items: string[] } } }).snapshot.context
    .items;
}

describe.skipIf(!available)('cluster fault injection', () => {
  let cluster: TestCluster;
  afterEach(async () => {
    await cluster?.close();
  });

  describe('exactly once on the owner fast path', () => {
    it('applies a call once when the node stalls past its lease right after the save is sent', async () => {
      cluster = new TestCluster();
      let armed = false;
      const a = cluster.node('a', {
        leaseMs: LEASE_MS,
        testHooks: {
          afterWriteSent: (ids) => {
            if (!armed || !ids.includes('x1')) return;
            armed = false;
            stall(LEASE_MS * 2);
          },
        },
      });
      cluster.node('b', { leaseMs: LEASE_MS });
      await a.sessions.start('x1');
      await a.sessions.call('x1', { type: 'add', item: 'before' });
      armed = true;
      const outcome = await a.sessions.call('x1', { type: 'add', item: 'once' }).then(
        () => 'ok',
        (err: unknown) => (isSessionError(err) ? err.code : String(err)),
      );
      expect(armed).toBe(false); // the stall happened
      expect(['ok', 'CALL_TIMEOUT']).toContain(outcome);
      // Whatever the caller heard, the store holds the item once.
      await eventually(async () => (await storedItems(cluster, 'x1')).includes('once'));
      expect(await storedItems(cluster, 'x1')).toEqual(['before', 'once']);
    });
  });
});
