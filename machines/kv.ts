import { assign, setup } from 'xstate';
import { reply } from 'session-process';

type KvEvent =
  | { type: 'put'; key: string; value: unknown }
  | { type: 'get'; key: string }
  | { type: 'delete'; key: string }
  | { type: 'ping' };

/**
 * The seed's default session process: a small key-value store per session.
 *
 * @example
 * ```ts
 * sessions.cast(id, { type: 'put', key: 'theme', value: 'dark' });
 * await sessions.call(id, { type: 'get', key: 'theme' }); // 'dark'
 * await sessions.call(id, { type: 'ping' });              // 'pong'
 * ```
 */
export const kvMachine = setup({
  types: {
    context: {} as { data: Record<string, unknown> },
    events: {} as KvEvent,
  },
}).createMachine({
  id: 'kv',
  context: { data: {} },
  on: {
    put: {
      actions: assign({
        data: ({ context, event }) => ({ ...context.data, [event.key]: event.value }),
      }),
    },
    get: { actions: reply(({ context, event }) => context.data[event.key] ?? null) },
    delete: {
      actions: assign({
        data: ({ context, event }) => {
          const { [event.key]: _removed, ...rest } = context.data;
          return rest;
        },
      }),
    },
    ping: { actions: reply('pong') },
  },
});
