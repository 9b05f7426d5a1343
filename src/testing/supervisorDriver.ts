import type { AnyActorRef, EventObject } from 'xstate';
import { generateSessionId, type SessionSupervisor } from '../index.js';
import type { ModelState, SessionDriver } from './types.js';

/**
 * The default driver: one session per path in `sessions`, through its public `start`, `cast`,
 * `call`, `snapshot` and `terminate`. A session whose machine reaches a top-level final state
 * ends at once (the supervisor removes it); the driver then reports the final snapshot, read
 * from the session's actor in `sessions.system`, with `status: 'done'`, so a path may end there.
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
  let actor: AnyActorRef | undefined;
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
      // The session's actor, kept to read its final snapshot: the supervisor forgets a session
      // as soon as its machine is done, and publishes only active snapshots.
      actor = sessions.system?.get(id) as AnyActorRef | undefined;
    },
    send(event: EventObject, { call }) {
      if (call) return { reply: sessions.call(current(), event) };
      sessions.cast(current(), event);
      return undefined;
    },
    state(): ModelState {
      const sessionId = current();
      if (!sessions.started(sessionId)) {
        const final = actor?.getSnapshot();
        if (final?.status === 'done')
          return { value: final.value, context: final.context, status: 'done' };
      }
      const snapshot = sessions.snapshot(sessionId);
      return { value: snapshot.value, context: snapshot.context, status: snapshot.status };
    },
    async stop() {
      if (id !== undefined && sessions.started(id)) await sessions.terminate(id);
      id = undefined;
      actor = undefined;
    },
  };
}
