/**
 * The cluster's failures are {@link ClusterError}s, declared in the core (a single-node store's
 * refused write is `WRITE_FENCED` too) and re-exported here for `session-process/redis`.
 */
export {
  ClusterError,
  type ClusterErrorCode,
  type ClusterErrorOptions,
  isClusterError,
} from '../../index.js';
