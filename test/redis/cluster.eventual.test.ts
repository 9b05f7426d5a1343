import { afterEach, describe, expect, it } from 'vitest';
import { eventually, redisAvailable, TestCluster } from './clusterHelpers.js';

const available = await redisAvailable('the cluster eventual tests');

// docs/cluster.md says it: with `eventual`, a node that loses a session's lease loses the
// acknowledged changes it had not saved yet (not only on a crash). Here a node is cut off from
// Redis as a paused or partitioned node is; the calls it acknowledged meanwhile are gone, and
// its stats() count them.
describe.skipIf(!available)('eventual in a cluster', () => {
  let cluster: TestCluster;
  afterEach(async () => {
    await cluster?.close();
  });

  it('loses the acknowledged, unsaved calls of a node that loses its lease, and counts them', async () => {
    cluster = new TestCluster();
    const eventual = { supervisor: { durability: 'eventual' } };
    const a = cluster.node('a', eventual, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
    const b = cluster.node('b', eventual);
    await a.sessions.start('e1');
    for (let i = 0; i < 3; i++) await a.sessions.call('e1', { type: 'inc' });
    await eventually(() => a.sessions.stats().store?.unsaved === 0);

    await cluster.cut(a, true);
    // a still holds the lease for a moment: it acknowledges calls whose saves cannot land.
    let acknowledged = 0;
    for (let i = 0; i < 2; i++)
      if (
        (await a.sessions.call<number>('e1', { type: 'inc' }).catch(() => undefined)) !== undefined
      )
        acknowledged++;
    expect(acknowledged).toBeGreaterThan(0);
    expect(a.sessions.stats().store?.unsaved).toBe(acknowledged);

    // The lease lapses: a drops the session, b takes it over from its last saved state.
    await eventually(() => a.sessions.count === 0, 5_000);
    expect(a.sessions.stats().store?.lost).toBe(acknowledged);
    await eventually(
      async () => (await b.sessions.call<number>('e1', { type: 'get' })) === 3,
      5_000,
    );
  });
});
