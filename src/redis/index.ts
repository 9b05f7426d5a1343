/**
 * session-process/redis: the Redis store and the multi-node mode (`ioredis`).
 *
 * @packageDocumentation
 */
// ---- cluster (helper `cluster`) ----
export { redisCluster, type RedisClusterOptions } from './cluster/redisCluster.js';
export type {
  ClusterSessionSupervisor,
  ClusterStats,
  ClusterSupervisorStats,
} from './cluster/ClusterSupervisor.js';
export { ClusterError, type ClusterErrorCode, isClusterError } from './cluster/errors.js';
export {
  type ClusterTelemetryEvents,
  type ClusterTelemetryName,
  clusterTelemetryChannels,
  type LeaseEvent,
  type LeaseEventType,
  type RouteEvent,
} from './cluster/telemetry.js';
