import type Koa from 'koa';
import { memoryStore, type SessionRecord } from 'session-process';
import { describe, expect, it } from 'vitest';
import { cartV1, cartVersions } from '../../machines/cartVersions.js';
import { CookieJar, startTestServer } from '../support/index.js';

async function routes(ctx: Koa.Context): Promise<void> {
  const sp = ctx.sessionProcess;
  if (ctx.path === '/add') {
    sp.cast({ type: 'cart.add', sku: 'A1' });
    ctx.body = { id: sp.id, cart: await sp.call({ type: 'cart.get' }) };
  } else if (ctx.path === '/cart')
    ctx.body = { id: sp.id, cart: await sp.call({ type: 'cart.get' }) };
  else ctx.status = 404;
}

/** The shop as deployed: the given cart logic, a store that outlives each deploy. */
const deploy = (logic: typeof cartVersions | typeof cartV1, store = memoryStore()) =>
  startTestServer({
    supervisor: { logic, store, passivateAfterMs: 30, onError: () => {} },
    koa: {},
    routes: (app) => app.use(routes),
    live: false,
  });

describe('a visitor across versions of the machine', () => {
  it('returns to a cart written by version 1 under the same session ID, migrated', async () => {
    const store = memoryStore();
    const old = await deploy(cartV1, store);
    const jar = new CookieJar(old.url);
    const { id } = await jar.json<{ id: string }>('GET', '/add');
    await old.close();
    const t = await deploy(cartVersions, store);
    const back = await jar
      .clone(t.url)
      .json<{ id: string; cart: { items: { sku: string }[] } }>('GET', '/cart');
    expect(back.id).toBe(id);
    expect(back.cart.items.map((i) => i.sku)).toEqual(['A1']);
    expect(t.sessions.snapshot(id).value).toEqual({
      auth: 'anonymous',
      cart: { shopping: 'active' },
    });
  });

  it('after a rollback, continues on a fresh session and leaves the newer record byte for byte', async () => {
    const store = memoryStore();
    const t = await deploy(cartVersions, store);
    const jar = new CookieJar(t.url);
    const { id } = await jar.json<{ id: string }>('GET', '/add');
    await expect.poll(() => t.sessions.list().some((s) => s.id === id)).toBe(false);
    // A version 4 deployed meanwhile wrote this session; then the deploy was rolled back.
    const stored = (await store.load(id))!;
    const data = JSON.stringify({
      ...(JSON.parse(stored.data) as SessionRecord),
      logicVersion: '4',
    });
    await store.save([
      { ...stored, expectedVersion: stored.version, version: stored.version + 1, data },
    ]);
    const before = await store.load(id);
    const res = await jar.request('GET', '/cart');
    expect(res.status).toBe(200);
    const fresh = (await res.json()) as { id: string; cart: { items: unknown[] } };
    expect(fresh.id).not.toBe(id);
    expect(fresh.cart.items).toEqual([]);
    expect(await store.load(id)).toEqual(before);
    expect(await t.sessions.quarantined()).toEqual([]);
  });
});
