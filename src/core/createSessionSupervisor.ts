import type { AnyActorLogic, AnyEventObject, EventObject } from 'xstate';
import { Supervisor } from './Supervisor.js';
import type { SessionSupervisor, SupervisorOptions } from './types.js';

/**
 * Creates a session supervisor: the root actor of an XState system whose children are the
 * session actors, one per session ID, with calls, casts, subscriptions, idle expiry, limits and
 * crash isolation. The type of `logic`/`logics` types `call` and `cast`: an event the machines
 * do not know is a compile error.
 *
 * @example
 * ```ts
 * import { createSessionSupervisor } from 'session-process';
 * import { counterMachine } from './machines/counter.js';
 *
 * const sessions = createSessionSupervisor({ logic: counterMachine, idleTimeoutMs: 30 * 60_000 });
 * await sessions.start('s1', { input: { value: 1 } });
 * sessions.cast('s1', { type: 'add_one' });
 * console.log(await sessions.call('s1', { type: 'get_value' })); // 2
 * await sessions.shutdown();
 * ```
 */
export function createSessionSupervisor<
  TLogic extends AnyActorLogic = never,
  TLogics extends Record<string, AnyActorLogic> = {},
>(
  options: SupervisorOptions<TLogic, TLogics> = {} as SupervisorOptions<TLogic, TLogics>,
): SessionSupervisor<EventOfLogics<TLogic, TLogics>> {
  const { cluster, ...local } = options as SupervisorOptions;
  // Many processes: the cluster wraps this process's own supervisor and routes to the others.
  if (cluster) return cluster.createSupervisor(local, (o) => new Supervisor(o)) as any;
  return new Supervisor(local) as any;
}

/** The events of the supervisor's logics (any event when they are untyped or none is given). */
export type EventOfLogics<TLogic, TLogics> = OrAny<
  EventOf<TLogic> | { [K in keyof TLogics]: EventOf<TLogics[K]> }[keyof TLogics]
>;
type OrAny<T> = [T] extends [never] ? AnyEventObject : T;
type EventOf<TLogic> = TLogic extends { transition: (s: any, event: infer E, ...r: any[]) => any }
  ? E extends EventObject
    ? E
    : never
  : never;
