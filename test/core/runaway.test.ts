import { afterAll, describe, expect, it } from 'vitest';
import { assign, raise, setup } from 'xstate';
import {
  createSessionSupervisor,
  isSessionError,
  reply,
  type SessionMessage,
} from 'session-process';

/** `cycle` enters an eventless loop; `spin` a state that raises the event re-entering it. */
const runaway = setup({
  types: {
    events: {} as { type: 'cycle' } | { type: 'spin' } | { type: 'again' } | { type: 'ping' },
  },
}).createMachine({
  initial: 'calm',
  states: {
    calm: { on: { cycle: 'a', spin: 'spinning', ping: { actions: reply('pong') } } },
    a: { always: 'b' },
    b: { always: 'a' },
    spinning: {
      entry: raise({ type: 'again' }),
      on: { again: { target: 'spinning', reenter: true } },
    },
  },
});

const counter = setup({
  types: { context: {} as { n: number }, events: {} as { type: 'inc' } | { type: 'get' } },
}).createMachine({
  context: { n: 0 },
  on: {
    inc: { actions: assign({ n: ({ context }) => context.n + 1 }) },
    get: { actions: reply(({ context }) => context.n) },
  },
});

describe('a runaway step', () => {
  const errors: unknown[] = [];
  const sessions = createSessionSupervisor({
    logics: { runaway, counter },
    startRate: false,
    onError: (err) => errors.push(err),
  });
  afterAll(() => sessions.shutdown());

  it.each(['cycle', 'spin'] as const)(
    'ends the session as crashed on a %s loop while 1,000 others answer calls',
    async (type) => {
      const others = Array.from({ length: 1_000 }, (_, i) => `${type}-other-${i}`);
      for (const id of others) await sessions.start(id, { logic: 'counter' });
      const id = `${type}-runaway`;
      await sessions.start(id, { logic: 'runaway' });
      const ended: SessionMessage[] = [];
      sessions.subscribe(id, (m) => ended.push(m));
      expect(await sessions.call(id, { type: 'ping' })).toBe('pong');

      const outcome = await sessions.call(id, { type }).catch((err: unknown) => err);
      expect(isSessionError(outcome, 'SESSION_CRASHED')).toBe(true);
      expect(String((outcome as Error).cause)).toMatch(/microsteps/);
      expect(ended.at(-1)).toMatchObject({ type: 'ended', reason: 'crashed' });
      expect(sessions.started(id)).toBe(false);

      for (const other of others) sessions.cast(other, { type: 'inc' });
      const values = await Promise.all(others.map((o) => sessions.call(o, { type: 'get' })));
      expect(values).toEqual(others.map(() => 1));
    },
  );

  it('leaves the machine it was given unbounded', () => {
    expect(runaway.options.maxIterations).toBe(Number.POSITIVE_INFINITY);
  });
});

/** Burns `ms` of CPU (a guard or an action that is slow, not one that waits). */
function busy(ms: number): true {
  const until = performance.now() + ms;
  while (performance.now() < until);
  return true;
}

/**
 * `grind` enters an eventless loop whose every microstep costs 2 ms of CPU: 10,000 microsteps
 * (the microstep bound) would hold the process for 20 s. `stall` runs one action of 80 ms.
 */
const grinder = setup({
  types: { events: {} as { type: 'grind' } | { type: 'stall' } | { type: 'ping' } },
  guards: { slow: () => busy(2) },
}).createMachine({
  initial: 'calm',
  states: {
    calm: {
      on: {
        grind: 'x',
        stall: { actions: [() => busy(80), reply('stalled')] },
        ping: { actions: reply('pong') },
      },
    },
    x: { always: { target: 'y', guard: 'slow' } },
    y: { always: { target: 'x', guard: 'slow' } },
  },
});

describe('the step time budget', () => {
  const errors: unknown[] = [];
  const sessions = createSessionSupervisor({
    logics: { grinder, counter },
    startRate: false,
    onError: (err) => errors.push(err),
  });
  afterAll(() => sessions.shutdown());

  it('ends a runaway step within its time budget while other sessions keep answering', async () => {
    await sessions.start('grinding', { logic: 'grinder' });
    const others = Array.from({ length: 100 }, (_, i) => `budget-other-${i}`);
    for (const id of others) await sessions.start(id, { logic: 'counter' });
    // Another session's caller, queued behind the runaway step: answered once it ends.
    const t0 = performance.now();
    const answered = new Promise<number>((resolve) => {
      setImmediate(() => {
        void sessions.call(others[0]!, { type: 'get' }).then(() => resolve(performance.now() - t0));
      });
    });
    const outcome = await sessions.call('grinding', { type: 'grind' }).catch((e: unknown) => e);
    const stepMs = performance.now() - t0;

    expect(isSessionError(outcome, 'SESSION_CRASHED')).toBe(true);
    expect(String((outcome as Error).cause)).toMatch(/maxStepMs \(50 ms\)/);
    expect(sessions.started('grinding')).toBe(false);
    // 20 s without the budget; 50 ms of its own work with it (generous: the machine is shared).
    expect(stepMs).toBeLessThan(2_000);
    expect(await answered).toBeLessThan(2_500);
    for (const id of others) sessions.cast(id, { type: 'inc' });
    const values = await Promise.all(others.map((id) => sessions.call(id, { type: 'get' })));
    expect(values).toEqual(others.map(() => 1));
  });

  it('does not end a step of one slow action (a single microstep is never interrupted)', async () => {
    await sessions.start('stalling', { logic: 'grinder' });
    expect(await sessions.call('stalling', { type: 'stall' })).toBe('stalled');
    expect(await sessions.call('stalling', { type: 'ping' })).toBe('pong');
  });

  it('takes its budget from maxStepMs', async () => {
    // 40 microsteps of 2 ms: past the default 50 ms, within a budget of 10 s.
    const roomy = createSessionSupervisor({
      logic: grinder,
      maxStepMs: 10_000,
      maxMicrosteps: 40,
      onError: () => {},
    });
    const tight = createSessionSupervisor({ logic: grinder, maxMicrosteps: 40, onError: () => {} });
    try {
      for (const [s, bound] of [
        [roomy, /40 microsteps/],
        [tight, /maxStepMs \(50 ms\)/],
      ] as const) {
        await s.start('g');
        const outcome = await s.call('g', { type: 'grind' }).catch((e: unknown) => e);
        expect(isSessionError(outcome, 'SESSION_CRASHED')).toBe(true);
        expect(String((outcome as Error).cause)).toMatch(bound);
      }
    } finally {
      await roomy.shutdown();
      await tight.shutdown();
    }
  });

  it('refuses a budget that is not a positive number', () => {
    expect(() => createSessionSupervisor({ logic: counter, maxStepMs: 0 })).toThrow(/maxStepMs/);
  });
});
