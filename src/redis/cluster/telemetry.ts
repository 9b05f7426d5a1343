import { type Channel, channel } from 'node:diagnostics_channel';

/** What a lease event is about. */
export type LeaseEventType =
  /** This node took an unowned session. */
  | 'acquire'
  /** This node took a session whose owner's lease had lapsed (failover). */
  | 'takeover'
  /** This node gave a session up (it ended, or the node shut down). */
  | 'release'
  /** This node renewed its node lease (one per `leaseMs / 3`, for all its sessions). */
  | 'renew'
  /** This node lost its node lease (not renewed in time) and stopped its sessions. */
  | 'lose'
  /** Redis lost the cluster's data (restarted without AOF, flushed): sessions were fenced. */
  | 'data-loss';

/** Payload of the `lease` telemetry event. */
export interface LeaseEvent {
  type: LeaseEventType;
  nodeId: string;
  /** The session, for `acquire`, `takeover` and `release`. */
  sessionId?: string;
  /** The node that owned the session before, for `takeover`. */
  previousOwner?: string;
  /** Sessions this node stopped, for `lose` and `data-loss`. */
  sessions?: number;
  /** Milliseconds the Redis round trip took, for `renew` and `acquire`. */
  durationMs?: number;
}

/** Payload of the `route` telemetry event: one operation sent to another node. */
export interface RouteEvent {
  sessionId: string;
  /** `call`, `cast`, `ensure`, `start`, `terminate`, `touch`, `rename`, `watch`. */
  op: string;
  nodeId: string;
  /** The node that answered (the last one tried). */
  to: string;
  /** Sends, including retries after a failover. */
  attempts: number;
  durationMs: number;
  outcome: 'ok' | 'error';
  errorCode?: string;
}

/** The cluster's telemetry events, by name (`sessions.on('lease', fn)`, `sessions.on('route', fn)`). */
export interface ClusterTelemetryEvents {
  lease: LeaseEvent;
  route: RouteEvent;
}

/** Names of the cluster's telemetry events. */
export type ClusterTelemetryName = keyof ClusterTelemetryEvents;

/**
 * The `node:diagnostics_channel` channels of the cluster: `session-process:lease` and
 * `session-process:route`.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe('session-process:lease', (e) => { if (e.type === 'lose') log.warn(e); });
 * ```
 */
export const clusterTelemetryChannels: Readonly<Record<ClusterTelemetryName, Channel>> = {
  lease: channel('session-process:lease'),
  route: channel('session-process:route'),
};

/** @internal */
export class ClusterTelemetry {
  readonly #listeners = new Map<string, Set<(e: any) => void>>();
  readonly #onError: (err: unknown) => void;
  constructor(onError: (err: unknown) => void) {
    this.#onError = onError;
  }
  active(name: ClusterTelemetryName): boolean {
    return (
      clusterTelemetryChannels[name].hasSubscribers || (this.#listeners.get(name)?.size ?? 0) > 0
    );
  }
  on<TName extends ClusterTelemetryName>(
    name: TName,
    listener: (event: ClusterTelemetryEvents[TName]) => void,
  ): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }
  emit<TName extends ClusterTelemetryName>(
    name: TName,
    event: ClusterTelemetryEvents[TName],
  ): void {
    const ch = clusterTelemetryChannels[name];
    if (ch.hasSubscribers) ch.publish(event);
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const fn of set) {
      try {
        fn(event);
      } catch (err) {
        this.#onError(err);
      }
    }
  }
}

/** @internal Whether `name` is one of the cluster's telemetry names. */
export function isClusterTelemetryName(name: unknown): name is ClusterTelemetryName {
  return name === 'lease' || name === 'route';
}
