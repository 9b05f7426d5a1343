/**
 * Runs the demo shop on 127.0.0.1:${PORT:-3000}: `npm start` (which builds first), or
 * `node dist/examples/shop/server.js` after `npm run build`. Sessions are kept in
 * `data/sessions.db` (`STORE=redis` for Redis at `REDIS_URL`, `STORE=memory` for none), so a
 * restart keeps every cart and login. `WORKERS=2` runs that many worker processes under
 * `node:cluster`, sharing the port and one Redis cluster of sessions: a shopper's requests land
 * on any worker and see one cart, and a worker that dies is replaced without losing one. SIGTERM
 * and SIGINT drain: the worker takes no new connection, saves its sessions and hands them to the
 * other workers (`sessions.drain()`), closes its live views so that the pages reconnect to another
 * worker, then exits; under `WORKERS` the primary then starts a replacement (one worker at a time:
 * a rolling restart), or, when the primary itself gets the signal, drains every worker and exits.
 * Set `COOKIE_SECRET` (required with `NODE_ENV=production`).
 */
import cluster from 'node:cluster';
import { join } from 'node:path';
import type { Middleware } from 'koa';
import { SHOP_SERVER_LIMITS } from './app.js';
import { cookieKeys } from './keys.js';
import { shopLiveScript } from './live.js';
import { startShop } from './startShop.js';

/** Under `WORKERS`, which worker answered (to see requests spread over the workers). */
const workerHeader: Middleware = async (ctx, next) => {
  ctx.set('X-Shop-Worker', String(process.pid));
  await next();
};

const workers = Number(process.env.WORKERS ?? 1);
const dataDir = process.env.SHOP_DATA ?? 'data';

if (workers > 1 && cluster.isPrimary) {
  // Every worker must sign cookies with the same key: the development secret is made here, once,
  // before any worker reads it.
  cookieKeys(
    process.env,
    (warning) => console.log(`warning: ${warning}`),
    join(dataDir, 'cookie-secret'),
  );
  let stopping = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    // A worker that died leaves its sessions to the others (they take them over within the
    // lease); a new one takes its place.
    console.log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    cluster.fork();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    });
  }
} else {
  try {
    // The server's deadlines and connection cap (10 s per request head, 30 s per request, 12,000
    // connections; MAX_CONNECTIONS to change the cap): see docs/production.md.
    const server = {
      ...SHOP_SERVER_LIMITS,
      maxConnections: Number(process.env.MAX_CONNECTIONS ?? SHOP_SERVER_LIMITS.maxConnections),
    };
    const running = await startShop({
      port: Number(process.env.PORT ?? 3000),
      dataDir,
      shop: cluster.isWorker ? { server, before: [workerHeader, shopLiveScript()] } : { server },
      log: (line) => console.log(cluster.isWorker ? `[worker ${process.pid}] ${line}` : line),
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        running.close().then(
          () => process.exit(0),
          (err) => {
            console.error(err);
            process.exit(1);
          },
        );
      });
    }
  } catch (err) {
    console.error(`session-process shop: ${(err as Error).message}`);
    process.exit(1);
  }
}
