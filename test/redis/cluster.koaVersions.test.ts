import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { machineVersions } from 'session-process';
import { redisCluster } from 'session-process/redis';
import { startApp, type TestApp, tallyMachine } from '../koa/helpers.js';
import { CookieJar } from '../support/index.js';
import { eventually, REDIS_URL, redisAvailable, uniquePrefix } from './clusterHelpers.js';

const available = await redisAvailable('the cluster Koa versions test');

/** The tally machine deployed at `version` (the same states and context in each). */
const tallyAt = (version: string) => createMachine({ ...tallyMachine.config, version });
const deployedAt = (version: '1' | '2') =>
  version === '1'
    ? machineVersions([tallyAt('1')])
    : machineVersions([tallyAt('1'), tallyAt('2')]);

describe.skipIf(!available)('Koa on a cluster across versions', () => {
  const apps: TestApp[] = [];
  const clients: Redis[] = [];
  let prefix = '';
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close().catch(() => {});
    for (const r of clients.splice(0)) r.disconnect();
    const admin = new Redis(REDIS_URL);
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
    admin.disconnect();
  });

  const worker = async (nodeId: string, version: '1' | '2'): Promise<TestApp> => {
    const redis = new Redis(REDIS_URL);
    clients.push(redis);
    const app = await startApp({
      logic: deployedAt(version),
      durability: 'durable',
      callTimeoutMs: 400,
      onError: () => {},
      cluster: redisCluster({ redis, nodeId, prefix, leaseMs: 600 }),
    });
    apps.push(app);
    await eventually(() => app.sessions.stats().cluster?.leaseHeld === true);
    return app;
  };

  it('answers 503 with Retry-After while a node holding the newer version is alive, then goes on afresh', async () => {
    prefix = uniquePrefix();
    // A cart written by version 2; every v2 worker then goes (a rollback).
    const v2 = await worker('v2', '2');
    const shopper = v2.client();
    const { id } = await shopper.json<{ id: string; count: number }>('POST', '/inc');
    await v2.close();
    const admin = new Redis(REDIS_URL);
    clients.push(admin);
    const record = () => admin.dumpBuffer(`${prefix}s:${id}`);
    const before = await record();
    expect(before).not.toBeNull();

    // A v2 node that is alive (its lease key, its channel, its versions) but answers nothing.
    const v1 = await worker('v1', '1');
    const ghost = new Redis(REDIS_URL);
    clients.push(ghost);
    await new Promise((resolve) => ghost.once('ready', resolve));
    await ghost.subscribe(`${prefix}nq:ghost`);
    await admin.set(`${prefix}n:ghost`, 'x', 'PX', 30_000);
    await admin.hset(`${prefix}nv`, 'ghost', JSON.stringify({ default: ['1', '2'] }));
    const tab = Object.assign(new CookieJar(v1.url), { cookies: shopper.cookies });
    const refused = await tab.request('GET', '/count');
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.getSetCookie()).toEqual([]);
    expect(await refused.text()).toMatch(/version/i);

    // No node holds version 2 any more: the visitor goes on, on a fresh session under a new
    // cookie; the record stays as version 2 wrote it, for the code that wrote it.
    await admin.del(`${prefix}n:ghost`);
    await admin.hdel(`${prefix}nv`, 'ghost');
    const fresh = await tab.json<{ id: string; count: number }>('GET', '/count');
    expect(fresh.id).not.toBe(id);
    expect(fresh.count).toBe(0);
    expect((await record())?.equals(before!)).toBe(true);
  });
});
