import { createSessionSupervisor } from 'session-process';
import { connectLive, type LiveClient, type SnapshotMessage } from 'session-process/client';
import { attachLiveBridge } from 'session-process/live';
import {
  createSessionTestModel,
  type DriveContext,
  type SessionDriver,
} from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { EventObject } from 'xstate';
import { createShopApp } from '../../examples/shop/app.js';
import { type CartContext, cartMachine } from '../../machines/cart.js';
import { cartModelOptions } from '../../machines/cart.model.js';
import { CookieJar, listenOnLoopback } from '../support/index.js';

const cartEventTypes = [
  'cart.add',
  'cart.remove',
  'cart.clear',
  'cart.get',
  'auth.login',
  'auth.logout',
  'checkout.start',
  'checkout.pay',
  'checkout.cancel',
  'order.new',
];

/**
 * A driver that plays the paths as a live view would: the page load (HTTP) gives it its session
 * cookie, then every event goes over the `session-process/live` WebSocket bridge (`send` for
 * casts, `call` for calls) and the state is the last snapshot the bridge pushed (its `value`, and
 * its `view` standing for the context).
 */
async function liveDriver({ supervisorOptions, input }: DriveContext): Promise<SessionDriver> {
  const sessions = createSessionSupervisor(supervisorOptions);
  const shop = createShopApp({
    sessions,
    cart: input as object,
    keys: ['model-test-key-0123456789abcdefghijklm'],
    clientStartRate: false,
  });
  const live = attachLiveBridge(shop.server, {
    app: shop.app,
    sessions,
    session: shop.sessionMiddleware,
    origins: (origin) => origin.startsWith('http://127.0.0.1:'),
    events: cartEventTypes,
    view: ({ context }: { context: CartContext }) => ({
      items: context.items,
      user: context.user,
      orderId: context.orderId,
      lastError: context.lastError,
    }),
    heartbeatMs: 0,
  });
  const base = (await listenOnLoopback(shop.server)).slice('http://'.length);
  let client: LiveClient | undefined;
  let latest: SnapshotMessage | undefined;

  return {
    settleMs: 2_000,
    async start() {
      // The page load gives the browser its session cookie.
      const browser = new CookieJar();
      await browser.fetch(`http://${base}/api/cart`);
      const cookie = browser.header();
      latest = undefined;
      await new Promise<void>((resolve, reject) => {
        client = connectLive(`ws://${base}/live`, {
          createSocket: (url, protocols) =>
            new WebSocket(url, protocols, { headers: { cookie, origin: `http://${base}` } }),
          maxAttempts: 1,
          onSnapshot: (snapshot) => {
            latest = snapshot;
            resolve();
          },
          onDisconnect: ({ code, reason }) =>
            reject(new Error(`live view closed: ${code} ${reason}`)),
        });
      });
    },
    async send(event: EventObject, { call }) {
      if (!client) throw new Error('not started');
      if (call) return { reply: client.call(event) };
      if (!client.send(event)) throw new Error(`live view not connected: ${event.type} not sent`);
      // A cast is not acknowledged: a call behind it on the same socket (answered in every state)
      // returns once the cast has been processed and its snapshot, if any, pushed.
      await client.call({ type: 'cart.get' });
      return undefined;
    },
    state() {
      if (!latest) throw new Error('no snapshot yet');
      return { value: latest.value, context: latest.view };
    },
    async stop() {
      client?.close();
      client = undefined;
      for (const { id } of sessions.list()) await sessions.terminate(id);
    },
    async close() {
      await live.close();
      await shop.close();
      await sessions.shutdown();
    },
  };
}

describe('the cart model through a live view (session-process/live over WebSocket)', () => {
  const model = createSessionTestModel(cartMachine, cartModelOptions);

  it('passes every transition path with events and snapshots over the live bridge', async () => {
    const report = await model.run({ drive: liveDriver });
    expect(report.failures.map((f) => f.message)).toEqual([]);
    expect(report.coverage.states).toMatchObject({ reached: 13, total: 13 });
    expect(report.coverage.transitions).toMatchObject({ reached: 20, total: 20 });
  });

  it('fails a path on a wrong guard, which the HTTP routes would have masked', async () => {
    const implementation = cartMachine.provide({
      guards: { canCheckout: ({ context }) => context.items.length > 0 },
    });
    const report = await model.run({
      drive: liveDriver,
      implementation,
      maxFailures: 1,
      print: false,
    });
    // The failed path, then the coverage that the stopped run (maxFailures) did not reach.
    expect(report.failures.map((f) => f.title).slice(1)).toEqual(['coverage']);
    expect(report.failures[0]?.path.at(-1)).toEqual({ type: 'checkout.start' });
    expect(report.failures[0]?.message).toMatch(
      /✗ \d+\. checkout\.start → expected auth\.anonymous \| cart\.shopping\.active/,
    );
    expect(report.failures[0]?.actual).toContain('"checkout":"review"');
  });
});
