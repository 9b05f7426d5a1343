import { createSessionTestModel, type VitestApi } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { cartMachine } from '../../machines/cart.js';
import { cartModelOptions } from '../../machines/cart.model.js';

const quiet = { print: false } as const;
/** The cart's events without the payment provider's failure. */
const withoutError = (cartModelOptions.events as Array<{ type: string }>).filter(
  (e) => !e.type.startsWith('xstate.error.'),
);

/** A stand-in for vitest's registration functions: collects what `model.describe` registers. */
function collector() {
  const tests: Array<{ name: string; fn: Parameters<VitestApi['it']>[1] }> = [];
  const after: Array<() => Promise<void> | void> = [];
  const api: VitestApi = {
    describe: (_name, factory) => factory(),
    it: (name, fn) => tests.push({ name, fn }),
    afterAll: (fn) => after.push(fn),
  };
  return { api, tests, after };
}

describe('coverage', () => {
  it('fails a run below 100 % by default, naming each transition not reached and why', async () => {
    const model = createSessionTestModel(cartMachine, {
      ...cartModelOptions,
      events: withoutError,
    });
    const printed: string[] = [];
    const report = await model.run({ print: (text) => printed.push(text) });
    expect(report.coverage.states).toEqual({ reached: 13, total: 13, missing: [] });
    expect(report.coverage.transitions).toEqual({
      reached: 19,
      total: 20,
      missing: ['cart.cart.checkout.paying on xstate.error.actor.payment'],
    });
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0]).toMatchObject({
      title: 'coverage',
      path: [],
      step: -1,
      expected: 'states >= 100%, transitions >= 100%',
      actual: 'states 100.0% (13/13), transitions 95.0% (19/20)',
    });
    expect(report.failures[0]?.message).toContain(
      "  transition cart.cart.checkout.paying on xstate.error.actor.payment: no `{ type: 'xstate.error.actor.payment', error: … }` in `events`",
    );
    expect(report.failures[0]?.message).toContain('Why this usually happens:');
    expect(printed.join('\n')).toContain('states 13/13 (100.0%), transitions 19/20 (95.0%)');
  });

  it('accepts less with minCoverage, given to the run or to the model', async () => {
    const model = createSessionTestModel(cartMachine, {
      ...cartModelOptions,
      events: withoutError,
    });
    expect((await model.run({ ...quiet, minCoverage: { transitions: 95 } })).failures).toEqual([]);
    expect((await model.run({ ...quiet, minCoverage: 94 })).failures).toEqual([]);
    expect((await model.run({ ...quiet, minCoverage: { transitions: 96 } })).failures).toHaveLength(
      1,
    );
    const lenient = createSessionTestModel(cartMachine, {
      ...cartModelOptions,
      events: withoutError,
      minCoverage: { transitions: 95 },
    });
    expect((await lenient.run(quiet)).failures).toEqual([]);
    // The run's own option wins over the model's.
    expect((await lenient.run({ ...quiet, minCoverage: 100 })).failures).toHaveLength(1);
  });

  it('names a state that no transition leads to', async () => {
    const machine = setup({ types: { events: {} as { type: 'go' } } }).createMachine({
      id: 'island',
      initial: 'a',
      states: { a: { on: { go: 'b' } }, b: {}, orphan: {} },
    });
    const report = await createSessionTestModel(machine, { events: [{ type: 'go' }] }).run(quiet);
    expect(report.coverage.states.missing).toEqual(['island.orphan']);
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0]?.message).toContain(
      'state island.orphan: no transition leads to it: it is unreachable in the machine',
    );
  });

  it('names an event missing from `events`', async () => {
    const machine = setup({
      types: { events: {} as { type: 'go' } | { type: 'back' } },
    }).createMachine({
      id: 'pair',
      initial: 'a',
      states: { a: { on: { go: 'b' } }, b: { on: { back: 'a' } } },
    });
    const report = await createSessionTestModel(machine, { events: [{ type: 'go' }] }).run(quiet);
    expect(report.failures[0]?.message).toContain(
      'transition pair.b on back: no event of type `back` in `events`',
    );
  });

  it('counts a guarded transition only when its guard passed (each branch on its own)', async () => {
    // Both branches lead to `b`: only the guard tells which one was taken.
    const machine = setup({
      types: { context: {} as { vip: boolean }, events: {} as { type: 'go' } },
      guards: { isVip: ({ context }) => context.vip },
    }).createMachine({
      id: 'branches',
      context: { vip: false },
      initial: 'a',
      states: {
        a: { on: { go: 'check' } },
        check: { always: [{ guard: 'isVip', target: 'b' }, { target: 'b' }] },
        b: {},
      },
    });
    const report = await createSessionTestModel(machine, { events: [{ type: 'go' }] }).run(quiet);
    expect(report.coverage.transitions.missing).toEqual([
      'branches.check always (#1, guard isVip)',
    ]);
    expect(report.failures[0]?.message).toContain(
      'transition branches.check always (#1, guard isVip): its guard isVip never passed on any path',
    );
  });

  it('reports paths cut by maxPaths, in the report and in the coverage failure', async () => {
    const model = createSessionTestModel(cartMachine, cartModelOptions);
    const total = model.getPaths().length;
    const printed: string[] = [];
    const report = await model.run({ maxPaths: 5, print: (text) => printed.push(text) });
    expect(report.paths).toHaveLength(5);
    expect(report.pathsNotRun).toBe(total - 5);
    expect(printed.join('\n')).toContain(
      `(${total - 5} more paths not run: maxPaths, maxFailures)`,
    );
    expect(report.failures[0]?.message).toContain(
      `the paths that reach it were among the ${total - 5} paths not run (maxPaths, maxFailures)`,
    );
  });

  it('runs every path by default (no silent cap)', async () => {
    const model = createSessionTestModel(cartMachine, cartModelOptions);
    const report = await model.run(quiet);
    expect(report.paths).toHaveLength(model.getPaths().length);
    expect(report.pathsNotRun).toBe(0);
  });
});

describe('the coverage test of describe()', () => {
  it('is registered after the paths and fails with the coverage message', async () => {
    const model = createSessionTestModel(cartMachine, {
      ...cartModelOptions,
      events: withoutError,
    });
    const { api, tests, after } = collector();
    model.describe('cart', { vitest: api, print: false });
    expect(tests.at(-1)?.name).toBe('covers every state and transition');
    expect(tests).toHaveLength(model.getPaths().length + 1);
    for (const test of tests.slice(0, -1)) await test.fn();
    await expect(tests.at(-1)?.fn()).rejects.toThrow(
      /cart: coverage is below the minimum \(states >= 100%, transitions >= 100%\): states 100\.0% \(13\/13\), transitions 95\.0% \(19\/20\)\. Not reached:\n {2}transition cart\.cart\.checkout\.paying on xstate\.error\.actor\.payment/,
    );
    for (const fn of after) await fn();
  });

  it('passes with minCoverage', async () => {
    const model = createSessionTestModel(cartMachine, {
      ...cartModelOptions,
      events: withoutError,
    });
    const { api, tests, after } = collector();
    model.describe('cart', { vitest: api, print: false, minCoverage: { transitions: 95 } });
    expect(tests.at(-1)?.name).toBe('covers at least 100 % of states and 95 % of transitions');
    for (const test of tests) await test.fn();
    for (const fn of after) await fn();
  });

  it('is skipped, not failed, when only some of the paths ran (tests filtered out)', async () => {
    const model = createSessionTestModel(cartMachine, {
      ...cartModelOptions,
      events: withoutError,
    });
    const { api, tests, after } = collector();
    const printed: string[] = [];
    model.describe('cart', { vitest: api, print: (text) => printed.push(text) });
    await tests[0]?.fn();
    const skipped: string[] = [];
    await tests.at(-1)?.fn({ skip: (note) => void skipped.push(note ?? '') });
    for (const fn of after) await fn();
    const note = `cart: 1 of ${tests.length - 1} paths ran; coverage not checked`;
    expect(skipped).toEqual([note]);
    expect(printed).toEqual([`[session-process/testing] ${note}`]);
  });
});
