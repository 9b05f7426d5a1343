import { createSessionTestModel, type VitestApi } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { cartMachine } from '../../machines/cart.js';
import { cartModelOptions } from '../../machines/cart.model.js';
import { counterMachine } from '../../machines/counter.js';

/** A stand-in for vitest's registration functions: collects what `model.describe` registers. */
function collector() {
  const suites: string[] = [];
  const tests: Array<{ name: string; fn: Parameters<VitestApi['it']>[1] }> = [];
  const after: Array<() => Promise<void> | void> = [];
  const api: VitestApi = {
    describe: (name, factory) => {
      suites.push(name);
      factory();
    },
    it: (name, fn) => tests.push({ name, fn }),
    afterAll: (fn) => after.push(fn),
  };
  return { api, suites, tests, after };
}

describe('describe', () => {
  it('registers one test per path, titled with its events and final state', async () => {
    const model = createSessionTestModel(cartMachine, cartModelOptions);
    const { api, suites, tests, after } = collector();
    const printed: string[] = [];
    model.describe(undefined, { vitest: api, print: (text) => printed.push(text) });
    expect(suites).toEqual(['cart (model-based, transitions)']);
    expect(tests.map((t) => t.name)).toEqual([
      ...model.getPaths().map((p) => p.title),
      'covers every state and transition',
    ]);
    expect(tests.map((t) => t.name)).toContain(
      'auth.login {"user":"ada"} › auth.logout ⇒ auth.anonymous | cart.shopping.empty',
    );
    for (const test of tests) await test.fn();
    for (const fn of after) await fn();
    expect(printed.join('\n')).toContain('states 13/13 (100.0%), transitions 20/20 (100.0%)');
  });

  it('fails the test of a path that the implementation breaks, with the readable message', async () => {
    const wrong = createSessionTestModel(counterMachine, {
      events: [{ type: 'add_one' }],
      serializeState: ({ value }) => JSON.stringify(value), // the count grows without bound
      compareContext: (context: { count: number }) => context.count,
    });
    const failing = collector();
    const doubling = setup({
      types: {
        context: {} as { count: number },
        events: {} as { type: 'add_one' } | { type: 'get_value' },
      },
    }).createMachine({
      id: 'counter',
      context: { count: 0 },
      on: { add_one: { actions: assign({ count: ({ context }) => context.count + 2 }) } },
    });
    wrong.describe('counter', { vitest: failing.api, print: false, implementation: doubling });
    expect(failing.tests.map((t) => t.name)).toEqual([
      'add_one ⇒ (root)',
      'covers every state and transition',
    ]);
    await expect(failing.tests[0]?.fn()).rejects.toThrow(
      /counter: path "add_one ⇒ \(root\)" failed at step 1 of 1\n {2}expected state: \{\} context 1\n {2}actual state: {3}\{\} context 2/,
    );
    for (const fn of failing.after) await fn();
  });

  it('finds vitest by itself when called in a vitest test file', () => {
    // This file's own suite below is registered without passing { vitest }.
    expect(typeof (globalThis as Record<string, unknown>).__vitest_index__).toBe('object');
  });
});

createSessionTestModel(counterMachine, {
  events: [{ type: 'add_one' }, { type: 'get_value' }],
  serializeState: ({ value }) => JSON.stringify(value), // the count grows without bound
  calls: ['get_value'],
}).describe('counterMachine registered by model.describe()', { print: false });
