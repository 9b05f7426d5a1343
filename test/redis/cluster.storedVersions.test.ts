import { afterEach, describe, expect, it } from 'vitest';
import { redisAvailable, TestCluster } from './clusterHelpers.js';

const available = await redisAvailable('the cluster versions test');

describe.skipIf(!available)('redisCluster versions()', () => {
  let cluster: TestCluster;
  afterEach(async () => {
    await cluster?.close();
  });

  it('counts the sessions every node stored, and the ones running on this node', async () => {
    cluster = new TestCluster();
    const a = cluster.node('a');
    const b = cluster.node('b');
    await a.sessions.start('s1');
    await b.sessions.start('s2');
    await b.sessions.start('s3');
    await a.sessions.call('s1', { type: 'inc' });
    await b.sessions.call('s2', { type: 'inc' });
    await b.sessions.call('s3', { type: 'inc' });
    expect(await a.sessions.versions()).toEqual([
      { logic: 'default', version: null, stored: 3, running: 1 },
    ]);
    expect(await b.sessions.versions()).toEqual([
      { logic: 'default', version: null, stored: 3, running: 2 },
    ]);
  });
});
