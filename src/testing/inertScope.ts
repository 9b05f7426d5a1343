import { type AnyActorRef, createEmptyActor } from 'xstate';

/** @internal An executable action as XState hands it to a scope's `actionExecutor`. */
export interface ExecutableAction {
  type: string;
  params?: any;
}

/** @internal The actor scope XState's `transition` and `getInitialSnapshot` take. */
export interface InertScope {
  self: AnyActorRef;
  system: AnyActorRef['system'];
  logger: () => void;
  id: string;
  sessionId: string;
  defer: () => void;
  stopChild: () => void;
  emit: () => void;
  actionExecutor: (action: ExecutableAction) => void;
}

/**
 * @internal
 * XState's inert actor scope (the one `xstate/graph`'s traversal builds), for running a machine's
 * `getInitialSnapshot` and `transition` outside an actor: actions are resolved, never executed
 * (children are created, never started), so the exploration stays pure. Each executable action
 * goes to `actionExecutor`, which ignores it by default. Its `self` is an empty actor, whose
 * `system` takes an inspector (the macrostep runner records microsteps with one).
 */
export function createInertScope(
  actionExecutor: (action: ExecutableAction) => void = () => {},
): InertScope {
  const self = createEmptyActor();
  return {
    self,
    system: self.system,
    logger: () => {},
    id: '',
    sessionId: '',
    defer: () => {},
    stopChild: () => {},
    emit: () => {},
    actionExecutor,
  };
}
