import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SessionStore } from 'session-process';
import { fencedStore } from '../../src/redis/cluster/fencedStore.js';
import { type ClusterKeys, clusterKeys } from '../../src/redis/cluster/keys.js';
import { NodeLease } from '../../src/redis/cluster/NodeLease.js';
import { Ownership } from '../../src/redis/cluster/Ownership.js';
import { ClusterTelemetry } from '../../src/redis/cluster/telemetry.js';
import { REDIS_URL, redisAvailable, uniquePrefix } from './clusterHelpers.js';

const available = await redisAvailable('the fencing tests');

interface Node {
  lease: NodeLease;
  ownership: Ownership;
  store: SessionStore;
  fenced: string[];
}

describe.skipIf(!available)('fenced store', () => {
  let redis: Redis;
  let keys: ClusterKeys;
  const nodes: Node[] = [];

  const node = async (nodeId: string, unfenced = false): Promise<Node> => {
    const telemetry = new ClusterTelemetry(() => {});
    const lease = new NodeLease(redis, keys, nodeId, 1_000, telemetry, {
      onLost: () => 0,
      onError: () => {},
      onAcquired: () => {},
    });
    await lease.start();
    const ownership = new Ownership(redis, keys, lease, telemetry);
    const fenced: string[] = [];
    const store = fencedStore(redis, keys, lease, ownership, {
      onFenced: (id) => fenced.push(id),
      takeApplied: () => [],
      resident: () => false,
      unfenced,
    });
    const n = { lease, ownership, store, fenced };
    nodes.push(n);
    return n;
  };
  const write = (
    version: number,
    expectedVersion: number,
    data: string,
    dueAt: number | null = null,
  ) => [{ id: 's', version, expectedVersion, data, dueAt }];

  beforeEach(() => {
    redis = new Redis(REDIS_URL);
    keys = clusterKeys(uniquePrefix());
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.lease.stop();
    const left = await redis.keys(`${keys.prefix}*`);
    if (left.length) await redis.del(...left);
    redis.disconnect();
  });

  it('refuses the write of a node whose session was taken over, in the same script as the version check', async () => {
    const a = await node('a');
    const b = await node('b');
    expect((await a.ownership.acquire('s')).self).toBe(true);
    expect(await a.store.save(write(1, 0, 'a1'))).toEqual(['ok']);
    // a is paused past its lease: its key lapses in Redis, b takes the session.
    await redis.del(keys.node('a'));
    const taken = await b.ownership.acquire('s');
    expect(taken.self).toBe(true);
    // Even with its node key back (a renewal that raced), a's token is not the owner's any more.
    await redis.set(keys.node('a'), a.lease.incarnation, 'PX', 1_000);
    expect(await a.store.save(write(2, 1, 'a2'))).toEqual(['conflict']);
    expect(a.fenced).toEqual(['s']);
    expect(await b.store.save(write(2, 1, 'b2'))).toEqual(['ok']);
    expect((await b.store.load('s'))?.data).toBe('b2');
  });

  it('reports a conflict when the stored version is not the expected one', async () => {
    const a = await node('a');
    await a.ownership.acquire('s');
    expect(await a.store.save(write(1, 0, 'x'))).toEqual(['ok']);
    expect(await a.store.save(write(2, 0, 'y'))).toEqual(['conflict']);
    expect(a.fenced).toEqual([]);
    expect(await a.store.load('s')).toEqual({ id: 's', version: 1, data: 'x', dueAt: null });
  });

  it('gives each acquisition a token that never repeats, across incarnations too', async () => {
    const a = await node('a');
    const tokens = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const o = await a.ownership.acquire(`t${i}`);
      if (o.self) tokens.add(o.token);
    }
    const b = await node('b');
    await redis.del(keys.node('a'));
    for (let i = 0; i < 5; i++) {
      const o = await b.ownership.acquire(`t${i}`);
      if (o.self) tokens.add(o.token);
    }
    expect(tokens.size).toBe(10);
    for (const t of tokens) expect(t).toMatch(/^[ab]\|[\w-]{12}\|\d+$/);
  });

  it('hands due sessions only to their owner, or to a node that may take them', async () => {
    const a = await node('a');
    const b = await node('b');
    await a.ownership.acquire('s');
    await a.store.save(write(1, 0, 'x', Date.now() - 1));
    expect(await b.store.due(Date.now(), 10)).toEqual([]);
    expect((await a.store.due(Date.now(), 10)).map((d) => d.id)).toEqual(['s']);
    await redis.del(keys.node('a'));
    expect((await b.store.due(Date.now(), 10)).map((d) => d.id)).toEqual(['s']);
    expect(b.ownership.tokens.has('s')).toBe(true);
  });

  it('writes over the new owner when fencing is switched off (the test-only switch)', async () => {
    const a = await node('a', true);
    const b = await node('b');
    await a.ownership.acquire('s');
    await a.store.save(write(1, 0, 'a1'));
    await redis.del(keys.node('a'));
    await b.ownership.acquire('s');
    expect(await a.store.save(write(2, 1, 'a2'))).toEqual(['ok']);
    expect((await b.store.load('s'))?.data).toBe('a2');
  });

  it('gives up sessions that stayed out of memory for two sweeps', async () => {
    const a = await node('a');
    await a.ownership.acquire('in');
    await a.ownership.acquire('out');
    const resident = (id: string) => id === 'in';
    expect(await a.ownership.sweep(resident)).toBe(0);
    expect(await a.ownership.sweep(resident)).toBe(1);
    expect([...a.ownership.tokens.keys()]).toEqual(['in']);
    expect(await redis.exists(keys.owner('out'))).toBe(0);
    expect(await redis.exists(keys.owner('in'))).toBe(1);
  });
});
