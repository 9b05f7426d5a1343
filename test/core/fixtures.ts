import { assign, fromPromise, setup } from 'xstate';
import { callIdOf, getSessionId, reply } from 'session-process';

/** Replies in the same step, after an invoked promise, or never; crashes on `boom`. */
export const workerMachine = setup({
  types: {
    context: {} as { n: number; pending: string | null; seenId: string | null },
    events: {} as
      | { type: 'inc' }
      | { type: 'get' }
      | { type: 'slow'; ms: number }
      | { type: 'silent' }
      | { type: 'boom' }
      | { type: 'boom.later'; ms: number }
      | { type: 'who' }
      | { type: 'lock' }
      | { type: 'finish' },
  },
  actors: {
    wait: fromPromise(async ({ input }: { input: { ms: number } }) => {
      await new Promise((r) => setTimeout(r, input.ms));
      return input.ms;
    }),
    whoAmI: fromPromise(async ({ self }) => getSessionId(self)),
  },
}).createMachine({
  id: 'worker',
  context: { n: 0, pending: null, seenId: null },
  initial: 'idle',
  states: {
    idle: {
      on: {
        inc: { actions: assign({ n: ({ context }) => context.n + 1 }) },
        get: { actions: reply(({ context }) => context.n) },
        slow: {
          target: 'working',
          actions: assign({ pending: ({ event }) => callIdOf(event) ?? null }),
        },
        silent: { actions: () => {} },
        boom: {
          actions: () => {
            throw new Error('boom in action');
          },
        },
        'boom.later': 'exploding',
        who: 'asking',
        lock: 'locked',
        finish: 'done',
      },
    },
    working: {
      invoke: {
        src: 'wait',
        input: ({ event }) => ({ ms: (event as { ms: number }).ms }),
        onDone: {
          target: 'idle',
          actions: [
            reply(({ event }) => ({ waited: event.output }), {
              to: ({ context }) => context.pending ?? undefined,
            }),
            assign({ pending: null }),
          ],
        },
      },
    },
    exploding: {
      invoke: {
        src: 'wait',
        input: ({ event }) => ({ ms: (event as { ms: number }).ms }),
        onDone: {
          actions: () => {
            throw new Error('boom after a delay');
          },
        },
      },
    },
    asking: {
      invoke: {
        src: 'whoAmI',
        onDone: {
          target: 'idle',
          actions: assign({ seenId: ({ event }) => event.output as string }),
        },
      },
    },
    locked: {},
    done: { type: 'final' },
  },
});

/** A machine whose entry action throws: it cannot start. */
export const brokenMachine = setup({}).createMachine({
  entry: () => {
    throw new Error('cannot init');
  },
});

export const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** Tracks every timer set while it is installed: those not yet fired nor cleared are `live`. */
export function trackTimers() {
  const live = new Set<unknown>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const t = realSet(() => {
      live.delete(t);
      fn(...args);
    }, ms);
    live.add(t);
    return t;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((t: NodeJS.Timeout) => {
    live.delete(t);
    realClear(t);
  }) as typeof clearTimeout;
  return {
    live,
    restore: () => {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    },
  };
}
