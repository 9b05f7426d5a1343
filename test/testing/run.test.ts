import { createSessionTestModel, type TestFailure } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { cartMachine } from '../../machines/cart.js';
import { cartModelOptions, serializeCartState } from '../../machines/cart.model.js';
import { counterMachine } from '../../machines/counter.js';
import { reply } from 'session-process';

const quiet = { print: false } as const;
const cart = createSessionTestModel(cartMachine, cartModelOptions);
/** For counters: the count grows without bound, so it cannot be part of the state's key. */
const valueOnly = ({ value }: { value: unknown }) => JSON.stringify(value);

function only(failures: TestFailure[]): TestFailure {
  expect(failures.length).toBeGreaterThan(0);
  return failures[0] as TestFailure;
}

describe('run', () => {
  it('fails a path when a guard is changed with machine.provide, naming the path, step and states', async () => {
    // Checkout without logging in: the model refuses checkout.start for an anonymous shopper.
    const implementation = cartMachine.provide({
      guards: { canCheckout: ({ context }) => context.items.length > 0 },
    });
    const report = await cart.run({ implementation, ...quiet });
    const failure = report.failures.find((f) =>
      f.title.startsWith('cart.add {"sku":"A1"} › checkout.start ⇒'),
    );
    expect(failure).toBeDefined();
    expect(failure).toMatchObject({
      path: [{ type: 'cart.add', sku: 'A1' }, { type: 'checkout.start' }],
      step: 2,
    });
    expect(failure?.expected).toContain('{"auth":"anonymous","cart":{"shopping":"active"}}');
    expect(failure?.actual).toContain('{"auth":"anonymous","cart":{"checkout":"review"}}');
    const message = failure?.message ?? '';
    expect(message).toContain(
      'cart: path "cart.add {"sku":"A1"} › checkout.start ⇒ auth.anonymous | cart.shopping.active" failed at step 2 of 2',
    );
    expect(message).toContain(
      '  expected state: {"value":{"auth":"anonymous","cart":{"shopping":"active"}},"skus":["A1"]} context {"items":[{',
    );
    expect(message).toContain(
      '  actual state:   {"value":{"auth":"anonymous","cart":{"checkout":"review"}},"skus":["A1"]} context {"items":[{',
    );
    expect(message).toContain('path so far:');
    expect(message).toContain('0. (start) → auth.anonymous | cart.shopping.empty');
    expect(message).toContain('1. cart.add {"sku":"A1"} → auth.anonymous | cart.shopping.active');
    expect(message).toContain(
      '✗ 2. checkout.start → expected auth.anonymous | cart.shopping.active',
    );
    // Every other path that leads through the changed guard fails too; the rest pass.
    expect(report.paths.some((p) => p.ok)).toBe(true);
  });

  it('fails a path when an action is changed, showing the context it compares', async () => {
    const implementation = cartMachine.provide({
      actions: { clearItems: assign({}) }, // cart.clear forgets to empty the cart
    });
    const report = await cart.run({ implementation, ...quiet });
    const failure = report.failures.find((f) => f.path.at(-1)?.type === 'cart.clear');
    expect(failure).toBeDefined();
    expect(failure?.message).toContain('cart.clear');
    expect(failure?.expected).toContain(
      'context {"items":[],"lastError":null,"orderId":null,"user":null}',
    );
    expect(failure?.actual).toContain('"sku":"A1"');
  });

  it('fails when a delayed transition fires earlier than the model says', async () => {
    const implementation = cartMachine.provide({ delays: { reservation: 1_000 } });
    const report = await cart.run({ implementation, ...quiet });
    // The step that arms the reservation already shows it: the delays pending are compared.
    const failure = report.failures.find((f) => f.path.at(-1)?.type === 'cart.add');
    expect(failure?.expected).toBe('delayed events pending, due in: 600000 ms');
    expect(failure?.actual).toBe('delayed events pending, due in: 1000 ms');
    expect(failure?.message).toContain('the delayed events pending differ');
  });

  it('fails when the reply is wrong (checkReply), at the step where it arrived', async () => {
    const machine = setup({
      types: { context: {} as { n: number }, events: {} as { type: 'inc' } | { type: 'get' } },
      actions: { answer: reply(({ context }: { context: { n: number } }) => context.n) },
    }).createMachine({
      context: { n: 0 },
      on: {
        inc: { actions: assign({ n: ({ context }) => context.n + 1 }) },
        get: { actions: 'answer' },
      },
    });
    const model = createSessionTestModel(machine, {
      events: [{ type: 'inc' }, { type: 'get' }],
      serializeState: valueOnly,
      compareContext: (context: { n: number }) => context.n,
      calls: ['get'],
      checkReply: ({ reply: value, expected }) => {
        expect(value).toBe((expected.context as { n: number }).n);
      },
    });
    expect((await model.run(quiet)).failures).toEqual([]);
    const wrong = machine.provide({ actions: { answer: reply('forty-two') } });
    const failure = only((await model.run({ implementation: wrong, ...quiet })).failures);
    expect(failure.step).toBe(1);
    expect(failure.actual).toBe('reply "forty-two"');
    expect(failure.message).toContain('the reply to "get" (step 1) is wrong');
    expect(failure.message).toContain("expected 'forty-two' to be +0");
  });

  it('reports a session that crashed instead of answering', async () => {
    const crashing = setup({
      types: { events: {} as { type: 'add_one' } | { type: 'get_value' } },
    }).createMachine({
      id: 'counter',
      on: {
        add_one: {
          actions: () => {
            throw new Error('boom');
          },
        },
      },
    });
    const model = createSessionTestModel(counterMachine, {
      events: [{ type: 'add_one' }],
      serializeState: valueOnly,
    });
    const failure = only(
      (
        await model.run({
          implementation: crashing,
          sessionOptions: { onError: () => {} },
          ...quiet,
        })
      ).failures,
    );
    expect(failure.step).toBe(1);
    expect(failure.actual).toMatch(/^\(no state: SESSION_NOT_FOUND/);
    expect(failure.message).toContain('the session could not be read');
  });
});

describe('paths', () => {
  it("'shortest' gives a path per state, 'transitions' a path per transition, 'simple' every simple path", () => {
    const shortest = cart.getPaths('shortest');
    const transitions = cart.getPaths('transitions');
    const simple = cart.getPaths('simple');
    expect(new Set(shortest.map((p) => p.title)).size).toBe(shortest.length);
    expect(transitions.length).toBeGreaterThan(shortest.length);
    expect(simple.length).toBeGreaterThan(transitions.length);
    expect(shortest[0]).toEqual({
      title: '(no events) ⇒ auth.anonymous | cart.shopping.empty',
      events: [],
    });
    // Delayed events are listed by the model itself.
    expect(
      transitions.some((p) =>
        p.events.some((e) => e.type === 'xstate.after.reservation.cart.cart.shopping.active'),
      ),
    ).toBe(true);
  });

  it('runs a path through a delayed transition without waiting in real time', async () => {
    const model = createSessionTestModel(cartMachine, {
      input: { reservationMs: 24 * 60 * 60_000 },
      events: [{ type: 'cart.add', sku: 'A1' }],
      // Quantities grow with every cart.add: the key keeps the SKUs only.
      serializeState: serializeCartState,
    });
    const before = model.clock.now();
    // One event of the cart's ten is listed: coverage is partial on purpose.
    const report = await model.run({ ...quiet, minCoverage: 0 });
    expect(report.failures).toEqual([]);
    expect(report.paths.map((p) => p.title)).toContain(
      'cart.add {"sku":"A1"} › xstate.after.reservation.cart.cart.shopping.active ⇒ auth.anonymous | cart.shopping.empty',
    );
    // A day on the model's clock; on the wall clock the test timeout bounds it (no stopwatch
    // here: how fast runs are is bench/testing.ts's subject).
    expect(model.clock.now() - before).toBeGreaterThanOrEqual(24 * 60 * 60_000);
  });

  it('refuses overlapping runs of one model', async () => {
    const model = createSessionTestModel(counterMachine, {
      events: [{ type: 'add_one' }],
      serializeState: valueOnly,
    });
    const first = model.run(quiet);
    await expect(model.run(quiet)).rejects.toThrow('a run of this model is already in progress');
    await first;
  });
});

describe('eventless transitions', () => {
  it('counts always transitions and the transient states they pass through', async () => {
    const gate = setup({
      types: { context: {} as { n: number }, events: {} as { type: 'inc' } },
      guards: { big: ({ context }) => context.n >= 2 },
    }).createMachine({
      id: 'gate',
      context: { n: 0 },
      initial: 'check',
      states: {
        check: { always: [{ guard: 'big', target: 'open' }, { target: 'closed' }] },
        closed: {
          on: { inc: { target: 'check', actions: assign({ n: ({ context }) => context.n + 1 }) } },
        },
        open: {},
      },
    });
    const model = createSessionTestModel(gate, { events: [{ type: 'inc' }] });
    const report = await model.run(quiet);
    expect(report.failures).toEqual([]);
    expect(report.coverage.states).toEqual({ reached: 4, total: 4, missing: [] });
    expect(report.coverage.transitions).toEqual({ reached: 3, total: 3, missing: [] });
  });
});

describe('planning', () => {
  it('explains an infinite state space instead of running forever', () => {
    // The default key holds the context, and the count grows without bound.
    const model = createSessionTestModel(counterMachine, {
      events: [{ type: 'add_one' }],
      limit: 1_000,
      maxDistinctValues: 5_000,
    });
    expect(() => model.getPaths()).toThrow(
      'counter: more than 1000 traversal steps (1001 configurations); make serializeState coarser (a context value that keeps growing makes the graph infinite; context.count varies most, 1001 values) or raise `limit`',
    );
  });

  it('names a context field that grows without bound, long before the step limit', () => {
    const model = createSessionTestModel(counterMachine, { events: [{ type: 'add_one' }] });
    const started = performance.now();
    expect(() => model.getPaths()).toThrow(
      'counter: context.count grows without bound: it took more than 1000 distinct values in 1001 configurations (from 0 to 1000)',
    );
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
