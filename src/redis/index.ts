/**
 * session-process/redis: the Redis {@link SessionStore} and the Redis cluster.
 *
 * @packageDocumentation
 */
export { type RedisSessionStore, type RedisStoreOptions, redisStore } from './store/redisStore.js';
// ---- cluster ----
export { redisCluster, type RedisClusterOptions } from './cluster/redisCluster.js';
export type {
  ClusterSessionSupervisor,
  ClusterStats,
  ClusterSupervisorStats,
} from './cluster/types.js';
export {
  ClusterError,
  type ClusterErrorCode,
  type ClusterErrorOptions,
  isClusterError,
} from './cluster/errors.js';
export {
  type ClusterTelemetryEvents,
  type ClusterTelemetryName,
  clusterTelemetryChannels,
  type LeaseEvent,
  type LeaseEventType,
  type RouteEvent,
} from './cluster/telemetry.js';
