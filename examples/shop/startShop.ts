import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { LiveBridge } from 'session-process/live';
import { createShopApp, type ShopApp, type ShopAppOptions } from './app.js';
import { cookieKeys } from './keys.js';
import { attachShopLive, shopLiveScript } from './live.js';
import { shopStore } from './store.js';

/** Options of {@link startShop}. */
export interface StartShopOptions {
  /** @default 3000 (`0` picks a free port) */
  port?: number | undefined;
  /** @default '127.0.0.1' */
  host?: string | undefined;
  /** Where `COOKIE_SECRET` and `NODE_ENV` are read from. @default process.env */
  env?: Record<string, string | undefined> | undefined;
  /** Where the URLs and warnings are printed. @default console.log */
  log?: ((line: string) => void) | undefined;
  /** More options of the shop app. @default {} */
  shop?: ShopAppOptions | undefined;
  /**
   * Where sessions and the development cookie secret are kept (`sessions.db`, `cookie-secret`),
   * chosen by `STORE` (see {@link shopStore}). `npm start` passes `data`; without it sessions live
   * in memory and the development secret in the process only.
   * @default undefined
   */
  dataDir?: string | undefined;
}

/** What {@link startShop} returns. */
export interface RunningShop {
  shop: ShopApp;
  live: LiveBridge;
  /** Every URL the shop serves. */
  urls: { shop: string; live: string; visualizer: string; metrics: string };
  /**
   * Drains and closes (what SIGTERM does): stops taking connections, hands every session over
   * (`sessions.drain()`: saved; with `WORKERS`, taken over by the other workers at once), closes
   * the live views (the pages reconnect elsewhere), then the server and the supervisor.
   */
  close(): Promise<void>;
}

/**
 * Starts the demo shop as `npm start` does: keys from `COOKIE_SECRET` (required with
 * `NODE_ENV=production`, else a random one and a warning), the live bridge, then listens and
 * prints every URL it serves: the shop, its live views, the visualizer and the metrics.
 *
 * @example
 * ```ts
 * const running = await startShop({ port: 3000 });
 * // ...
 * await running.close();
 * ```
 */
export async function startShop(options: StartShopOptions = {}): Promise<RunningShop> {
  const log = options.log ?? console.log;
  const host = options.host ?? '127.0.0.1';
  const env = options.env ?? process.env;
  const dataDir = options.dataDir;
  const keys = cookieKeys(
    env,
    (warning) => log(`warning: ${warning}`),
    dataDir === undefined ? undefined : join(dataDir, 'cookie-secret'),
  );
  const kept = dataDir === undefined ? undefined : shopStore(env, dataDir);
  const shop = createShopApp({
    keys,
    before: [shopLiveScript()],
    ...(kept?.cluster
      ? { supervisor: { cluster: kept.cluster, durability: kept.durability } }
      : kept?.store
        ? {
            supervisor: {
              store: kept.store,
              durability: kept.durability,
              passivateAfterMs: 10 * 60_000,
            },
          }
        : {}),
    ...options.shop,
  });
  const live = attachShopLive(shop);
  shop.liveBridges.push(live);
  await new Promise<void>((resolve, reject) => {
    shop.server.once('error', reject);
    shop.server.listen(options.port ?? 3000, host, () => resolve());
  });
  const { port } = shop.server.address() as AddressInfo;
  const base = `http://${host}:${port}`;
  const urls = {
    shop: `${base}/`,
    live: `ws://${host}:${port}/live`,
    visualizer: `${base}/_sessions`,
    metrics: `${base}/metrics`,
  };
  log(`session-process shop listening on ${base}`);
  log(`  shop        ${urls.shop}`);
  log(`  live views  ${urls.live}`);
  log(`  visualizer  ${urls.visualizer}   (this machine only)`);
  log(`  metrics     ${urls.metrics}   (this machine only)`);
  if (kept) log(`  sessions    ${kept.describe}`);
  return {
    shop,
    live,
    urls,
    async close() {
      // Draining (SIGTERM). No new connection comes here (under `WORKERS`, the primary sends
      // them to the other workers); every session is saved and, with a cluster, handed to the
      // other workers at once (`sessions.drain()`); then the live views close (1001: the pages
      // reconnect, to a worker that stays) and the supervisor shuts down.
      shop.server.close();
      shop.server.closeIdleConnections();
      await shop.sessions.drain();
      await live.close();
      await shop.close();
      await kept?.close();
    },
  };
}
