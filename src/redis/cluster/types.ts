import type {
  SessionSupervisor,
  SupervisorStats,
  TelemetryEvents,
  TelemetryName,
} from '../../index.js';
import type { ClusterTelemetryEvents, ClusterTelemetryName } from './telemetry.js';

/** What `stats().cluster` holds. */
export interface ClusterStats {
  /** This node. */
  nodeId: string;
  /** Live nodes (this one included), by node ID, as of the last lease renewal. */
  nodes: string[];
  /** Whether this node holds its lease now. */
  leaseHeld: boolean;
  /** Sessions this node owns (running here, or stored and not yet claimed by another node). */
  owned: number;
  /** Session IDs known in the whole cluster (the directory). */
  known: number;
}

/** The stats of a cluster node: the node's own supervisor's, plus `cluster`. */
export interface ClusterSupervisorStats extends SupervisorStats {
  cluster: ClusterStats;
}

/**
 * What `createSessionSupervisor({ cluster: redisCluster(...) })` returns: a {@link SessionSupervisor}
 * whose `stats()` has `cluster` and whose `on()` also takes the cluster's `lease` and `route`
 * events. The core's return type does not say so yet: cast to this type.
 *
 * @example
 * ```ts
 * const sessions = createSessionSupervisor({ logic, cluster }) as ClusterSessionSupervisor;
 * sessions.on('lease', (e) => e.type === 'lose' && log.warn(e));
 * console.log(sessions.stats().cluster.nodes);
 * ```
 */
export interface ClusterSessionSupervisor extends SessionSupervisor {
  stats(): ClusterSupervisorStats;
  on<TName extends TelemetryName>(
    name: TName,
    listener: (event: TelemetryEvents[TName]) => void,
  ): () => void;
  on<TName extends ClusterTelemetryName>(
    name: TName,
    listener: (event: ClusterTelemetryEvents[TName]) => void,
  ): () => void;
}
