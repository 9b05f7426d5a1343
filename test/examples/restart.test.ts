import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectLive, type SnapshotMessage } from 'session-process/client';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { type RunningShop, startShop } from '../../examples/shop/startShop.js';
import { CookieJar } from '../support/index.js';
import { deleteKeys, REDIS_URL, redisAvailable } from '../redis/storeHelpers.js';

const hasRedis = await redisAvailable();
const dir = mkdtempSync(join(tmpdir(), 'sp-shop-restart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let running: RunningShop | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** `npm start` as its server.ts runs it, on a data folder of the test's own. */
const start = (dataDir: string, port = 0) => startShop({ port, env: {}, dataDir, log: () => {} });

describe('the demo keeps its shoppers across a restart', () => {
  it('keeps every cart and login, and an open tab shows the same cart without a reload', async () => {
    const dataDir = join(dir, 'a');
    running = await start(dataDir);
    const base = running.urls.shop.slice(0, -1);
    const port = Number(new URL(base).port);
    const shopper = new CookieJar(base);
    await shopper.json('POST', '/api/cart/items', { sku: 'A1', qty: 2 });
    await shopper.json('POST', '/api/login', { user: 'ada' });
    const other = new CookieJar(base);
    await other.json('POST', '/api/cart/items', { sku: 'B2' });

    // The shopper's open tab follows the cart through its live view.
    const views: SnapshotMessage<{ count: number }>[] = [];
    const tab = connectLive<{ count: number }>(running.urls.live, {
      onSnapshot: (s) => views.push(s),
      createSocket: (url, protocols) =>
        new WebSocket(url, protocols, {
          headers: { cookie: shopper.header(), origin: base },
        }),
      backoff: { initialMs: 20, maxMs: 100 },
    });
    await vi.waitFor(() => expect(views.at(-1)?.view).toMatchObject({ count: 2 }));

    await running.close(); // SIGTERM: drained, every session saved
    running = await start(dataDir, port);
    // fetch's pooled keep-alive sockets to the old server are dead: let it notice (a browser
    // retries such a request by itself).
    await new Promise((r) => setTimeout(r, 50));

    const cart = await shopper.json('GET', '/api/cart');
    expect(cart).toMatchObject({ user: 'ada', count: 2, items: [{ sku: 'A1', qty: 2 }] });
    expect(await other.json('GET', '/api/cart')).toMatchObject({ count: 1 });

    // The tab reconnected by itself and follows the restored cart.
    const before = views.length;
    await shopper.json('POST', '/api/cart/items', { sku: 'B2' });
    await vi.waitFor(() => {
      expect(views.length).toBeGreaterThan(before);
      expect(views.at(-1)?.view).toMatchObject({ count: 3 });
    });
    expect(tab.state).toBe('open');
    tab.close();
  });

  it.skipIf(!hasRedis)('keeps carts in Redis with STORE=redis', async () => {
    const env = { STORE: 'redis', REDIS_PREFIX: `sp-shop-${process.pid}:` };
    const redis = new Redis(REDIS_URL);
    try {
      running = await startShop({ port: 0, env, dataDir: join(dir, 'r'), log: () => {} });
      const shopper = new CookieJar(running.urls.shop.slice(0, -1));
      await shopper.json('POST', '/api/cart/items', { sku: 'C3' });
      await running.close();
      const [, keys] = await redis.scan('0', 'MATCH', `${env.REDIS_PREFIX}*`, 'COUNT', 1000);
      expect(keys.length).toBeGreaterThan(0); // the cart is in Redis, not in a file
      running = await startShop({ port: 0, env, dataDir: join(dir, 'r'), log: () => {} });
      const again = shopper.clone(running.urls.shop.slice(0, -1));
      expect(await again.json('GET', '/api/cart')).toMatchObject({ count: 1 });
    } finally {
      await deleteKeys(redis, env.REDIS_PREFIX);
      redis.disconnect();
    }
  });

  it('keeps the development cookie secret in the data folder, so cookies stay valid', async () => {
    const dataDir = join(dir, 'b');
    running = await start(dataDir);
    const shopper = new CookieJar(running.urls.shop.slice(0, -1));
    await shopper.json('POST', '/api/cart/items', { sku: 'A1' });
    await running.close();
    running = await start(dataDir);
    const again = shopper.clone(running.urls.shop.slice(0, -1));
    expect(await again.json('GET', '/api/cart')).toMatchObject({ count: 1 });
  });
});
