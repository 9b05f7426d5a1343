/**
 * Runs the demo shop on 127.0.0.1:${PORT:-3000}: `npm start` (which builds first), or
 * `node dist/examples/shop/server.js` after `npm run build`. Sessions are kept in
 * `data/sessions.db` (`STORE=redis` for Redis at `REDIS_URL`, `STORE=memory` for none), so a
 * restart keeps every cart and login. SIGTERM and SIGINT drain: views are told, requests finish,
 * every session is saved. Set `COOKIE_SECRET` (required with `NODE_ENV=production`).
 */
import { startShop } from './startShop.js';

try {
  const running = await startShop({
    port: Number(process.env.PORT ?? 3000),
    dataDir: process.env.SHOP_DATA ?? 'data',
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
