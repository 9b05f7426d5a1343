import { createSessionSupervisor } from 'session-process';
import {
  createSessionTestModel,
  type DriveContext,
  type ModelState,
  type SessionDriver,
} from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import type { EventObject } from 'xstate';
import { createShopApp } from '../../examples/shop/app.js';
import type { CartState } from '../../examples/shop/cartState.js';
import { cartMachine } from '../../machines/cart.js';
import { cartModelOptions } from '../../machines/cart.model.js';
import { CookieJar, listenOnLoopback } from '../support/index.js';

/** The cart machine's state value, rebuilt from what the shop's JSON API shows of a cart. */
function stateValueOf(cart: CartState): unknown {
  const auth = cart.user === null ? 'anonymous' : 'loggedIn';
  if (cart.stage === 'ordered') return { auth, cart: 'ordered' };
  if (cart.stage === 'shopping')
    return { auth, cart: { shopping: cart.items.length ? 'active' : 'empty' } };
  return { auth, cart: { checkout: cart.stage } };
}

/**
 * A driver that plays the model's paths over the demo shop's JSON API, like a browser with a
 * cookie jar: one cookie jar (one session) per path. Its supervisor runs the model's
 * implementation on the model's clock, so delayed and invoked steps stay under the runner's
 * control while every other event goes through HTTP, koa-session and the session middleware.
 */
async function shopDriver({ supervisorOptions, input }: DriveContext): Promise<SessionDriver> {
  const sessions = createSessionSupervisor(supervisorOptions);
  const shop = createShopApp({
    sessions,
    cart: input as object,
    keys: ['model-test-key-0123456789abcdefghijklm'],
    clientStartRate: false,
  });
  const base = await listenOnLoopback(shop.server);
  let jar = new CookieJar(base);

  const request = async (method: string, path: string, body?: unknown) => {
    const response = await jar.request(method, path, body);
    const json = (await response.json()) as Record<string, unknown>;
    // 4xx is the shop refusing what the current state does not allow, as the machine does;
    // the state check after the step tells whether that was right.
    if (response.status >= 500)
      throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return { status: response.status, json };
  };

  const routes: Record<
    string,
    (
      e: EventObject & Record<string, unknown>,
    ) => Promise<{ status: number; json: Record<string, unknown> }>
  > = {
    'cart.add': (e) => request('POST', '/api/cart/items', { sku: e.sku, qty: e.qty }),
    'cart.remove': (e) => request('DELETE', `/api/cart/items/${encodeURIComponent(String(e.sku))}`),
    'cart.get': () => request('GET', '/api/cart'),
    'cart.clear': () => request('DELETE', '/api/cart'),
    'auth.login': (e) => request('POST', '/api/login', { user: e.user }),
    'auth.logout': () => request('POST', '/api/logout'),
    'checkout.start': () => request('POST', '/api/checkout'),
    'checkout.pay': (e) => request('POST', '/api/checkout/pay', { card: e.card }),
    'checkout.cancel': () => request('POST', '/api/checkout/cancel'),
    'order.new': () => request('POST', '/api/order/new'),
  };

  return {
    // The pay request is answered only when the payment settles: its effect (`paying`) is read
    // back by polling for up to this long.
    settleMs: 2_000,
    async start() {
      jar = new CookieJar(base);
      await request('GET', '/api/cart');
    },
    async send(event) {
      const route = routes[event.type];
      if (!route) throw new Error(`the shop's API has no route for ${event.type}`);
      const response = route(event as EventObject & Record<string, unknown>);
      if (event.type === 'checkout.pay') {
        // Do not wait: the response comes once the runner settles the payment.
        const reply = response.then(({ status, json }) => {
          if (status === 200) return { ok: true, orderId: json.orderId };
          if (status === 402) return { ok: false, error: (json.error as { code: string }).code };
          throw Object.assign(new Error(`refused: ${JSON.stringify(json)}`), { status });
        });
        reply.catch(() => {});
        return { reply };
      }
      const { status, json } = await response;
      if (event.type === 'cart.get' && status === 200) {
        const { items, total, user } = json as unknown as CartState;
        return { reply: Promise.resolve({ items, total, user }) };
      }
      return undefined;
    },
    async state(): Promise<ModelState> {
      const { json } = await request('GET', '/api/cart');
      const cart = json as unknown as CartState;
      return {
        value: stateValueOf(cart),
        context: {
          items: cart.items,
          user: cart.user,
          orderId: cart.orderId,
          lastError: cart.lastError,
        },
      };
    },
    async stop() {
      for (const { id } of sessions.list()) await sessions.terminate(id);
    },
    async close() {
      await shop.close();
      await sessions.shutdown();
    },
  };
}

describe('the cart model through the demo shop (HTTP JSON API)', () => {
  // Every event of the model goes through the HTTP API.
  const model = createSessionTestModel(cartMachine, cartModelOptions);

  it('passes every transition path over real HTTP, sessions and cookies', async () => {
    const report = await model.run({ drive: shopDriver });
    expect(report.failures.map((f) => f.message)).toEqual([]);
    expect(report.coverage.states).toMatchObject({ reached: 13, total: 13 });
    expect(report.coverage.transitions).toMatchObject({ reached: 20, total: 20 });
  });

  it('fails a path when the implementation behind the shop is wrong', async () => {
    // auth.logout forgets to clear the user: the API still shows them logged in.
    const implementation = cartMachine.provide({ actions: { clearUser: () => {} } });
    const report = await model.run({
      drive: shopDriver,
      implementation,
      maxFailures: 1,
      print: false,
    });
    // The failed path, then the coverage that the stopped run (maxFailures) did not reach.
    expect(report.failures.map((f) => f.title).slice(1)).toEqual(['coverage']);
    const failure = report.failures[0];
    expect(failure?.path.at(-1)).toEqual({ type: 'auth.logout' });
    expect(failure?.message).toContain('auth.login {"user":"ada"} → auth.loggedIn');
    expect(failure?.message).toMatch(/✗ \d+\. auth\.logout → expected auth\.anonymous/);
    expect(failure?.actual).toContain('"auth":"loggedIn"');
  });
});
