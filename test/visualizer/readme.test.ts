import { createServer } from 'node:http';
import Koa from 'koa';
import session from 'koa-session';
import { createSessionSupervisor } from 'session-process';
import { sessionProcess } from 'session-process/koa';
import { isLoopback, visualizer } from 'session-process/visualizer';
import { expect, it } from 'vitest';
import { cartMachine } from '../../machines/cart.js';
import { listenOnLoopback } from '../support/index.js';

// The guide's first example (docs/visualizer.md), on port 0.
it('runs the README example: the page from loopback, the app untouched', async () => {
  const sessions = createSessionSupervisor({ logic: cartMachine });
  const app = new Koa();
  app.keys = ['a secret key of at least 32 characters'];
  const viz = visualizer(sessions, {
    path: '/_sessions',
    authorize: (ctx) => isLoopback(ctx),
    allowSend: false,
  });
  app.use(viz);
  app.use(session({ key: 'sid', maxAge: 86_400_000, sameSite: 'lax' }, app));
  app.use(sessionProcess(sessions));
  app.use(async (ctx) => {
    ctx.body = { id: (await ctx.sessionProcess.ensure()).id }; // starts the (lazy) process
  });
  const server = createServer(app.callback());
  const feed = viz.attach(server);
  const url = await listenOnLoopback(server);
  try {
    expect((await fetch(`${url}/_sessions`)).status).toBe(200);
    expect(sessions.count).toBe(0); // opening the page started no session
    expect((await fetch(`${url}/`)).status).toBe(200);
    expect(sessions.count).toBe(1);
    const proxied = await fetch(`${url}/_sessions`, {
      headers: { 'x-forwarded-for': '203.0.113.7' },
    });
    expect(proxied.status).toBe(403);
  } finally {
    await feed.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await sessions.shutdown();
  }
});
