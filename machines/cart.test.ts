import { createSessionSupervisor, isSessionError } from 'session-process';
import { createSessionTestModel } from 'session-process/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { type CartContext, cartMachine, DECLINED_CARD } from './cart.js';
import { cartModelOptions } from './cart.model.js';

const GOOD_CARD = '4242424242424242';
const model = createSessionTestModel(cartMachine, cartModelOptions);

// One test per path, then one that fails below 100 % of states and transitions.
model.describe('cartMachine (model-based)');

describe('cartMachine', () => {
  it('reaches every state and transition through real sessions, on simulated time', async () => {
    const started = Date.now();
    const report = await model.run();
    expect(report.failures).toEqual([]);
    expect(report.coverage.states).toMatchObject({ reached: 13, total: 13, missing: [] });
    expect(report.coverage.transitions).toMatchObject({ reached: 20, total: 20, missing: [] });
    // The 10-minute reservation and the payment took no real time.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('also passes with one path per state and with every simple path', async () => {
    // A path per state reaches every state, not every transition.
    const shortest = await model.run({
      paths: 'shortest',
      minCoverage: { transitions: 0 },
      print: false,
    });
    expect(shortest.failures).toEqual([]);
    expect(shortest.coverage.states).toMatchObject({ reached: 13, total: 13 });
    expect(shortest.paths.length).toBeGreaterThanOrEqual(13);
    // Simple paths end with each step back into them (cart.get's self-loop included), but 300
    // of them leave states out: the coverage failure says they were among the paths not run.
    const simple = await model.run({ paths: 'simple', maxPaths: 300, print: false });
    expect(simple.paths).toHaveLength(300);
    expect(simple.paths.every((p) => p.ok)).toBe(true);
    expect(simple.pathsNotRun).toBe(model.getPaths('simple').length - 300);
    expect(simple.failures.map((f) => f.title)).toEqual(['coverage']);
    expect(simple.failures[0]?.message).toContain(
      `state cart.cart.ordered: the paths that reach it were among the ${simple.pathsNotRun} paths not run (maxPaths, maxFailures)`,
    );
    expect(simple.failures[0]?.message).not.toContain('cart on cart.get');
  });
});

describe('cartMachine behaviour', () => {
  let sessions: ReturnType<typeof createSessionSupervisor> | undefined;
  afterEach(async () => {
    await sessions?.shutdown();
    sessions = undefined;
  });

  async function shopper(input: Record<string, unknown> = {}, clock?: SimulatedClock) {
    sessions = createSessionSupervisor({ logic: cartMachine, ...(clock ? { clock } : {}) });
    await sessions.start('s1', { input: { paymentDelayMs: 20, ...input } });
    return sessions;
  }

  it('prices items from the catalog and replies to cart.get in every state', async () => {
    const s = await shopper();
    s.cast('s1', { type: 'cart.add', sku: 'A1' });
    s.cast('s1', { type: 'cart.add', sku: 'B2', qty: 2 });
    s.cast('s1', { type: 'cart.add', sku: 'A1' });
    expect(await s.call('s1', { type: 'cart.get' })).toEqual({
      items: [
        { sku: 'A1', name: 'Espresso beans, 1 kg', qty: 2, price: 2_490 },
        { sku: 'B2', name: 'Ceramic cup', qty: 2, price: 1_200 },
      ],
      total: 2 * 2_490 + 2 * 1_200,
      user: null,
    });
  });

  it('refuses checkout.start when anonymous or when the cart is empty', async () => {
    const s = await shopper();
    s.cast('s1', { type: 'cart.add', sku: 'A1' });
    const anonymous = await s.call('s1', { type: 'checkout.start' }).catch((e: unknown) => e);
    expect(isSessionError(anonymous, 'EVENT_NOT_ACCEPTED')).toBe(true);
    s.cast('s1', { type: 'cart.clear' });
    s.cast('s1', { type: 'auth.login', user: 'ada' });
    const empty = await s.call('s1', { type: 'checkout.start' }).catch((e: unknown) => e);
    expect(isSessionError(empty, 'EVENT_NOT_ACCEPTED')).toBe(true);
    expect(s.snapshot('s1').value).toEqual({ auth: 'loggedIn', cart: { shopping: 'empty' } });
  });

  it('pays: the call replies after the payment settles, then order.new starts over', async () => {
    const s = await shopper({ paymentDelayMs: 60 });
    s.cast('s1', { type: 'cart.add', sku: 'C3' });
    s.cast('s1', { type: 'auth.login', user: 'ada' });
    s.cast('s1', { type: 'checkout.start' });
    const started = performance.now();
    const paying = s.call('s1', { type: 'checkout.pay', card: GOOD_CARD });
    expect(s.snapshot('s1').value).toEqual({ auth: 'loggedIn', cart: { checkout: 'paying' } });
    // No logout while the payment is in flight.
    s.cast('s1', { type: 'auth.logout' });
    expect(s.snapshot('s1').context.user).toBe('ada');
    const result = await paying;
    expect(performance.now() - started).toBeGreaterThanOrEqual(50);
    expect(result).toEqual({ ok: true, orderId: expect.stringMatching(/^ord_/) });
    const snap = s.snapshot<CartContext>('s1');
    expect(snap.value).toEqual({ auth: 'loggedIn', cart: 'ordered' });
    expect(snap.context).toMatchObject({
      items: [],
      orderId: (result as { orderId: string }).orderId,
      payCall: null,
    });
    s.cast('s1', { type: 'order.new' });
    expect(s.snapshot<CartContext>('s1')).toMatchObject({
      value: { auth: 'loggedIn', cart: { shopping: 'empty' } },
      context: { orderId: null },
    });
  });

  it('declines card 4000000000000002, keeps the cart, and lets the shopper retry', async () => {
    const s = await shopper();
    s.cast('s1', { type: 'cart.add', sku: 'A1' });
    s.cast('s1', { type: 'auth.login', user: 'ada' });
    s.cast('s1', { type: 'checkout.start' });
    expect(await s.call('s1', { type: 'checkout.pay', card: DECLINED_CARD })).toEqual({
      ok: false,
      error: 'card_declined',
    });
    expect(s.snapshot<CartContext>('s1')).toMatchObject({
      value: { cart: { checkout: 'failed' } },
      context: { lastError: 'card_declined', items: [{ sku: 'A1' }] },
    });
    expect(await s.call('s1', { type: 'checkout.pay', card: GOOD_CARD })).toMatchObject({
      ok: true,
    });
    expect(s.snapshot('s1').value).toEqual({ auth: 'loggedIn', cart: 'ordered' });
  });

  it('empties the cart when the reservation expires (SimulatedClock)', async () => {
    const clock = new SimulatedClock();
    const s = await shopper({ reservationMs: 60_000 }, clock);
    s.cast('s1', { type: 'cart.add', sku: 'A1' });
    clock.increment(59_999);
    expect(s.snapshot('s1').value).toEqual({ auth: 'anonymous', cart: { shopping: 'active' } });
    clock.increment(1);
    expect(s.snapshot<CartContext>('s1')).toMatchObject({
      value: { auth: 'anonymous', cart: { shopping: 'empty' } },
      context: { items: [] },
    });
  });

  it('holds the reservation 15 minutes by default and stops it during checkout', async () => {
    const clock = new SimulatedClock();
    const s = await shopper({}, clock);
    s.cast('s1', { type: 'cart.add', sku: 'A1' });
    s.cast('s1', { type: 'auth.login', user: 'ada' });
    s.cast('s1', { type: 'checkout.start' });
    clock.increment(60 * 60_000);
    expect(s.snapshot('s1').value).toEqual({ auth: 'loggedIn', cart: { checkout: 'review' } });
    s.cast('s1', { type: 'checkout.cancel' });
    clock.increment(15 * 60_000 - 1);
    expect(s.snapshot('s1').value).toEqual({ auth: 'loggedIn', cart: { shopping: 'active' } });
    clock.increment(1);
    expect(s.snapshot('s1').value).toEqual({ auth: 'loggedIn', cart: { shopping: 'empty' } });
  });
});
