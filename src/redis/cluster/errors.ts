/**
 * The cluster's own failures. They are not session errors (no session's operation failed): they
 * reach `onError` and the `lease` telemetry, with a stable `code`.
 */

/** Codes of {@link ClusterError}. */
export type ClusterErrorCode = 'REDIS_DATA_LOSS' | 'LEASE_LOST' | 'NODE_ID_IN_USE' | 'WRITE_FENCED';

/**
 * Something happened to the cluster as a whole: Redis lost its data (`REDIS_DATA_LOSS`), this
 * node could not renew its lease in time and stopped its sessions (`LEASE_LOST`), or another live
 * process holds this node ID (`NODE_ID_IN_USE`).
 *
 * @example
 * ```ts
 * createSessionSupervisor({ cluster, onError: (err) => {
 *   if (isClusterError(err, 'REDIS_DATA_LOSS')) alertOps(err.message);
 * } });
 * ```
 */
export class ClusterError extends Error {
  override name = 'ClusterError' as const;
  readonly code: ClusterErrorCode;
  /** The node that reports it. */
  readonly nodeId: string;
  constructor(code: ClusterErrorCode, nodeId: string, message: string) {
    super(message);
    this.code = code;
    this.nodeId = nodeId;
  }
}

/**
 * Whether `err` is a {@link ClusterError} (optionally with this code); compares `name` too.
 *
 * @example
 * ```ts
 * if (isClusterError(err, 'LEASE_LOST')) metrics.leaseLost.inc();
 * ```
 */
export function isClusterError<TCode extends ClusterErrorCode>(
  err: unknown,
  code?: TCode,
): err is ClusterError & { code: TCode } {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown };
  if (!(err instanceof ClusterError) && e.name !== 'ClusterError') return false;
  return code === undefined || e.code === code;
}
