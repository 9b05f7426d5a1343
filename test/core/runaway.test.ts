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
