import type { AnyActorLogic, AnyActorRef } from 'xstate';
import type { CallTracker } from './CallTracker.js';
import type { Expiry } from './Expiry.js';
import type { ErrorSource } from './options.js';
import type { RestartPolicy } from './RestartPolicy.js';
import type { SessionRegistry } from './SessionRegistry.js';
import type { SubscriberHub } from './SubscriberHub.js';
import type { Telemetry } from './telemetry.js';
import type { EndReason } from './types.js';

/** @internal Counters behind `stats()`. */
export interface Counters {
  started: number;
  ended: Record<EndReason, number>;
  restarts: number;
  calls: number;
  casts: number;
  refused: number;
}

/** @internal Counters at zero, for a new supervisor. */
export function newCounters(): Counters {
  return {
    started: 0,
    ended: { terminated: 0, expired: 0, crashed: 0, shutdown: 0 },
    restarts: 0,
    calls: 0,
    casts: 0,
    refused: 0,
  };
}

/** @internal The parts of a supervisor the lifecycle drives. */
export interface LifecycleParts {
  root: AnyActorRef;
  logics: Readonly<Record<string, AnyActorLogic>>;
  runnable: Readonly<Record<string, AnyActorLogic>>;
  registry: SessionRegistry;
  expiry: Expiry;
  subs: SubscriberHub;
  calls: CallTracker;
  restart: RestartPolicy;
  telemetry: Telemetry;
  counters: Counters;
  report(error: unknown, sessionId: string | undefined, source: ErrorSource): void;
  /** Whether the supervisor is shutting down (no restarts then). */
  closing(): boolean;
}
