import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { createSessionSupervisor } from 'session-process';
import { visualizer } from 'session-process/visualizer';
import { expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { cartMachine } from '../../machines/cart.js';

// A self-signed certificate for localhost and 127.0.0.1, made for these tests only.
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

it('attaches to an https server and returns a handle whose close() ends its feeds', async () => {
  const sessions = createSessionSupervisor({ logic: cartMachine });
  const app = new Koa();
  const viz = visualizer(sessions, { app });
  app.use(viz);
  const server = createServer(
    { key: fixture('localhost-key.pem'), cert: fixture('localhost-cert.pem') },
    app.callback(),
  );
  const attachment = viz.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const page = await new Promise<number>((resolve, reject) => {
      import('node:https').then(({ get }) =>
        get(`${origin}/_sessions`, { rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject),
      );
    });
    expect(page).toBe(200);
    const ws = new WebSocket(`${origin.replace('https', 'wss')}/_sessions/feed`, {
      rejectUnauthorized: false,
      origin,
    });
    const hello = await new Promise<any>((resolve, reject) => {
      ws.once('message', (d) => resolve(JSON.parse(d.toString())));
      ws.once('error', reject);
    });
    expect(hello.type).toBe('hello');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    expect(typeof attachment.close).toBe('function');
    await attachment.close();
    expect(await closed).toBe(1001);
    expect(server.listenerCount('upgrade')).toBe(0);
  } finally {
    await viz.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await sessions.shutdown();
  }
});
