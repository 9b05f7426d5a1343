/**
 * Runs the demo shop on 127.0.0.1:${PORT:-3000}: `npm start` (which builds first), or
 * `node dist/examples/shop/server.js` after `npm run build`.
 */
import type { AddressInfo } from 'node:net';
import { createShopApp } from './app.js';
import { attachShopLive, shopLiveScript } from './live.js';

const port = Number(process.env.PORT ?? 3000);
const shop = createShopApp({ before: [shopLiveScript()] });
const live = attachShopLive(shop);

shop.server.listen(port, '127.0.0.1', () => {
  const { port: actual } = shop.server.address() as AddressInfo;
  console.log(`session-process shop listening on http://127.0.0.1:${actual}`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    Promise.all([live.close(), shop.close()]).then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
