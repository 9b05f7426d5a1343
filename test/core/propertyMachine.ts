import { callIdOf, reply } from 'session-process';
import { assign, setup } from 'xstate';

/** Events of {@link propertyMachine}, as the property tests generate them. */
export type PropertyEventType =
  | 'inc'
  | 'get'
  | 'wait'
  | 'release'
  | 'lock'
  | 'unlock'
  | 'boom'
  | 'boom.guard';

/**
 * The session machine the property tests drive: small enough to model by hand, rich enough to
 * reach every way a call settles. `get` replies in the same step; `wait` keeps its call id and
 * `release` answers it later (or nobody, and it times out); `inc` never replies (a call of it
 * times out); `locked` accepts only `unlock`, `get` and the two crashes; `boom` throws in an
 * action and `boom.guard` in a guard, from any state (DESIGN.md: an exception in a session's
 * action, guard or assign ends that session alone, reason `crashed`).
 */
export const propertyMachine = setup({
  types: {
    context: {} as { n: number; pending: string | null },
    events: {} as { type: PropertyEventType },
  },
}).createMachine({
  id: 'property',
  context: { n: 0, pending: null },
  initial: 'idle',
  on: {
    boom: {
      actions: () => {
        throw new Error('boom in action');
      },
    },
    'boom.guard': {
      guard: () => {
        throw new Error('boom in guard');
      },
      target: '.locked',
    },
  },
  states: {
    idle: {
      on: {
        inc: { actions: assign({ n: ({ context }) => context.n + 1 }) },
        get: { actions: reply(({ context }) => context.n) },
        wait: { actions: assign({ pending: ({ event }) => callIdOf(event) ?? null }) },
        release: {
          actions: [
            reply(({ context }) => context.n, {
              to: ({ context }) => context.pending ?? undefined,
            }),
            assign({ pending: null }),
          ],
        },
        lock: 'locked',
      },
    },
    locked: {
      on: {
        unlock: 'idle',
        get: { actions: reply(({ context }) => context.n) },
      },
    },
  },
});
