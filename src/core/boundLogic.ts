import type { AnyActorLogic } from 'xstate';

/**
 * @internal
 * The logic a session actor is created from: for a state machine without a bound of its own, a
 * copy (`machine.provide({})`) whose `options.maxIterations` is `maxMicrosteps`. XState has no
 * bound by default, so an `always` cycle or a `raise` that re-enters its own state never yields
 * and blocks every session of the process; with one, the step throws and that session alone
 * ends as `crashed`. The user's machine object is left as it was.
 */
export function boundLogic(logic: AnyActorLogic, maxMicrosteps: number): AnyActorLogic {
  const machine = logic as AnyActorLogic & {
    provide?: (implementations: object) => AnyActorLogic;
    options?: { maxIterations?: number };
  };
  if (typeof machine.provide !== 'function' || typeof machine.options !== 'object') return logic;
  if (Number.isFinite(machine.options.maxIterations)) return logic;
  const bounded = machine.provide({}) as AnyActorLogic & { options: { maxIterations?: number } };
  bounded.options = { ...bounded.options, maxIterations: maxMicrosteps };
  return bounded;
}
