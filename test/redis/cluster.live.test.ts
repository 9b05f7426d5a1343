import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { redisCluster } from 'session-process/redis';
import { startLiveTestServer } from '../live/liveTestServer.js';
import { closeTestServers, recordFrames as record } from '../support/index.js';
import { REDIS_URL, redisAvailable, uniquePrefix } from './clusterHelpers.js';

const available = await redisAvailable('the cluster live-view test');

describe.skipIf(!available)('live views on a cluster', () => {
  const clients: Redis[] = [];
  let prefix = '';
  afterEach(async () => {
    await closeTestServers(); // before the keys are deleted: a closing node still writes
    for (const r of clients.splice(0)) r.disconnect();
    const admin = new Redis(REDIS_URL);
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
    admin.disconnect();
  });

  const worker = (nodeId: string) => {
    const redis = new Redis(REDIS_URL);
    clients.push(redis);
    return startLiveTestServer(
      {},
      { cluster: redisCluster({ redis, nodeId, prefix, leaseMs: 600 }) },
    );
  };

  it('follows a session owned by another worker, and sends its events there', async () => {
    prefix = uniquePrefix();
    const a = await worker('a');
    const b = await worker('b');
    const { cookie, sessionId } = await a.login();
    expect(a.sessions.count).toBe(1);
    const ws = await b.connect({ cookie, origin: b.origin });
    const rec = record(ws);
    const first = await rec.next((m) => m.type === 'snapshot');
    expect(first.view).toEqual({ count: 0 });
    ws.send(JSON.stringify({ type: 'send', event: { type: 'add_one' } }));
    expect((await rec.next((m) => m.type === 'snapshot' && m.view.count === 1)).view).toEqual({
      count: 1,
    });
    // A change made on the owner reaches the view on the other worker too.
    a.sessions.cast(sessionId, { type: 'add_one' });
    await rec.next((m) => m.type === 'snapshot' && m.view.count === 2);
    expect(b.sessions.count).toBe(0);
    const call = rec.messages.length;
    ws.send(JSON.stringify({ type: 'call', ref: 'r1', event: { type: 'get_value' } }));
    expect(await rec.next((m) => m.type === 'reply', call)).toMatchObject({ ref: 'r1', value: 2 });
    await a.sessions.terminate(sessionId);
    expect(await rec.next((m) => m.type === 'ended')).toMatchObject({ reason: 'terminated' });
  });
});
