import { assign, setup } from 'xstate';
import { reply } from 'session-process';

/**
 * The seed's own test process: input gives the start value, `get_value` replies with it and
 * `add_one` increments it.
 *
 * @example
 * ```ts
 * const sessions = createSessionSupervisor({ logic: counterMachine });
 * await sessions.start('s1', { input: { value: 41 } });
 * sessions.cast('s1', { type: 'add_one' });
 * await sessions.call('s1', { type: 'get_value' }); // 42
 * ```
 */
export const counterMachine = setup({
  types: {
    context: {} as { count: number },
    input: {} as { value?: number } | undefined,
    events: {} as { type: 'get_value' } | { type: 'add_one' },
  },
}).createMachine({
  id: 'counter',
  context: ({ input }) => ({ count: input?.value ?? 0 }),
  on: {
    get_value: { actions: reply(({ context }) => context.count) },
    add_one: { actions: assign({ count: ({ context }) => context.count + 1 }) },
  },
});
