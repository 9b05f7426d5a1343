import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { machineVersions } from 'session-process';
import { redisCluster } from 'session-process/redis';
import { startApp, type TestApp, tallyMachine } from '../koa/helpers.js';
import { CookieJar } from '../support/index.js';
import { eventually, REDIS_URL, redisAvailable, uniquePrefix } from './clusterHelpers.js';

const available = await redisAvailable('the cluster Koa test');

/** The tally machine deployed at `version` (the same states and context in each). */
const tallyAt = (version: string) => createMachine({ ...tallyMachine.config, version });
const deployedAt = (version: '1' | '2') =>
  version === '1' ? machineVersions([tallyAt('1')]) : machineVersions([tallyAt('1'), tallyAt('2')]);

describe.skipIf(!available)('Koa on a cluster', () => {
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

  const worker = async (
    nodeId: string,
    middleware: Parameters<typeof startApp>[1] = {},
    supervisor: Parameters<typeof startApp>[0] = {},
  ): Promise<TestApp> => {
    const redis = new Redis(REDIS_URL);
    clients.push(redis);
    const app = await startApp(
      {
        durability: 'durable',
        cluster: redisCluster({ redis, nodeId, prefix, leaseMs: 600 }),
        ...supervisor,
      },
      middleware,
    );
    apps.push(app);
    return app;
  };

  it('gives a shopper one session whichever worker each request lands on, and keeps it when a worker stops', async () => {
    prefix = uniquePrefix();
    const a = await worker('a');
    const b = await worker('b');
    const onA = a.client();
    // One browser, one cookie jar, requests spread over both workers.
    const onB = Object.assign(new CookieJar(b.url), { cookies: onA.cookies });
    const first = await onA.json('POST', '/inc');
    const second = await onB.json('POST', '/inc');
    const third = await onA.json('POST', '/inc');
    expect(second.id).toBe(first.id);
    expect(third).toEqual({ id: first.id, count: 3 });
    expect(a.sessions.count + b.sessions.count).toBe(1);
    // The worker that runs the cart stops; the other serves it on, from the store.
    const owner = a.sessions.count === 1 ? a : b;
    const other = owner === a ? onB : onA;
    await owner.close();
    expect(await other.json('GET', '/count')).toEqual({ id: first.id, count: 3 });
  });

  it('serves a shopper whose stored session cannot be restored a fresh one on any worker', async () => {
    prefix = uniquePrefix();
    const a = await worker('a');
    const onA = a.client();
    const { id } = await onA.json('POST', '/inc');
    await a.close(); // saved in Redis
    const admin = new Redis(REDIS_URL);
    clients.push(admin);
    await admin.hset(`${prefix}s:${id}`, 'd', '{"format":1,'); // a deploy broke it

    const b = await worker('b');
    const c = await worker('c');
    const onB = Object.assign(new CookieJar(b.url), { cookies: new Map(onA.cookies) });
    const onC = Object.assign(new CookieJar(c.url), { cookies: new Map(onA.cookies) });
    const fresh = await onB.request('POST', '/inc');
    expect(fresh.status).toBe(200);
    const body = (await fresh.json()) as { id: string; count: number };
    expect(body.id).not.toBe(id);
    expect(body.count).toBe(1);
    expect((await onC.request('GET', '/count')).status).toBe(200);
    expect(await b.sessions.quarantined()).toEqual([
      { id, quarantinedAt: expect.any(Number), reason: expect.stringMatching(/JSON/) },
    ]);
  });

  it('keeps the cart when two workers rotate one cookie at once (a double-clicked login)', async () => {
    prefix = uniquePrefix();
    const a = await worker('a');
    const b = await worker('b');
    const onA = a.client();
    const onB = Object.assign(new CookieJar(b.url), { cookies: onA.cookies });
    for (let i = 0; i < 3; i++) await onA.json('POST', '/inc');
    // The same cookie, two logins at once, one on each worker.
    const [first, second] = await Promise.all([
      onA.request('POST', '/rotate'),
      onB.request('POST', '/rotate'),
    ]);
    const statuses = [first.status, second.status].sort();
    // One rotation moves the session; the other is told SESSION_ROTATED (409, retry) and sets no
    // cookie, or, having come second, finds the moved session again under the new cookie.
    expect(statuses.every((s) => s === 200 || s === 409)).toBe(true);
    const refused = [first, second].filter((r) => r.status === 409);
    for (const r of refused) {
      expect(await r.text()).toMatch(/moved to a new ID/);
      expect(r.headers.getSetCookie()).toEqual([]);
    }
    // Whatever the order, the browser's cart is intact under the cookie it holds now.
    expect((await onA.json('GET', '/count')).count).toBe(3);
    expect((await onB.json('GET', '/count')).count).toBe(3);
    expect(a.sessions.count + b.sessions.count).toBe(1);
  });

  it('holds the per-client start limit across workers, keyed by the client address', async () => {
    prefix = uniquePrefix();
    const rate = { clientStartRate: { limit: 3, intervalMs: 60_000 } };
    const a = await worker('a', rate);
    const b = await worker('b', rate);
    a.app.proxy = b.app.proxy = true; // the client address from X-Forwarded-For
    const visit = (app: TestApp, ip: string) =>
      fetch(`${app.url}/count`, { headers: { 'x-forwarded-for': ip } });
    const statuses: number[] = [];
    for (const app of [a, b, a, b, a, b]) statuses.push((await visit(app, '10.1.0.1')).status);
    // Three starts in the window, wherever they landed; then 429 on every worker.
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    const refused = await visit(b, '10.1.0.1');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(55);
    // Another client has its own window.
    expect((await visit(a, '10.1.0.2')).status).toBe(200);
  });

  /** A worker deployed at `version` (a rollback test): the tally machine of every version up to it. */
  const versioned = async (nodeId: string, version: '1' | '2') => {
    const app = await worker(
      nodeId,
      {},
      { logic: deployedAt(version), callTimeoutMs: 400, onError: () => {} },
    );
    await eventually(() => app.sessions.stats().cluster?.leaseHeld === true);
    return app;
  };

  it('answers 503 with Retry-After while a node holding the newer version is alive, then goes on afresh', async () => {
    prefix = uniquePrefix();
    // A cart written by version 2; every v2 worker then goes (a rollback).
    const v2 = await versioned('v2', '2');
    const shopper = v2.client();
    const { id } = await shopper.json<{ id: string; count: number }>('POST', '/inc');
    await v2.close();
    const admin = new Redis(REDIS_URL);
    clients.push(admin);
    const record = () => admin.dumpBuffer(`${prefix}s:${id}`);
    const before = await record();
    expect(before).not.toBeNull();

    // A v2 node that is alive (its lease key, its channel, its versions) but answers nothing.
    const v1 = await versioned('v1', '1');
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
