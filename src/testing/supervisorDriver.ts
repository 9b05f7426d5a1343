import type { EventObject } from 'xstate';
import { generateSessionId, type SessionSupervisor } from '../index.js';
import type { SessionDriver } from './types.js';

/**
 * The default driver: one session per path in `sessions`, through its public `start`, `cast`,
 * `call`, `snapshot` and `terminate`.
 *
 * @example
 * ```ts
 * const driver = createSupervisorDriver(sessions, { logic: 'cart' });
 * await driver.start({ reservationMs: 60_000 });
 * await driver.send({ type: 'cart.add', sku: 'A1' }, { call: false });
 * (await driver.state()).value; // { auth: 'anonymous', cart: { shopping: 'active' } }
 * ```
 */
export function createSupervisorDriver(
  sessions: SessionSupervisor,
  options: {
    /** Name of the logic to start (`logics`). @default the supervisor's `logic` */
    logic?: string;
  } = {},
): SessionDriver {
  let id: string | undefined;
  const current = (): string => {
    if (id === undefined) throw new Error('No session started: call start() first');
    return id;
  };
  return {
    settleMs: 0,
    async start(input) {
      id = generateSessionId();
      await sessions.start(id, {
        ...(options.logic === undefined ? {} : { logic: options.logic }),
        ...(input === undefined ? {} : { input }),
      });
    },
    send(event: EventObject, { call }) {
      if (call) return { reply: sessions.call(current(), event) };
      sessions.cast(current(), event);
      return undefined;
    },
    state() {
      const snapshot = sessions.snapshot(current());
      return { value: snapshot.value, context: snapshot.context };
    },
    async stop() {
      if (id !== undefined && sessions.started(id)) await sessions.terminate(id);
      id = undefined;
    },
  };
}
