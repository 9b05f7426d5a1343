/**
 * The cluster's own failures, and a write another writer's lease refused. They are not session
 * errors (no operation a caller made failed): they reach `onError` (and the cluster's `lease`
 * telemetry) with a stable `code`. Declared in the core because `WRITE_FENCED` is reported by
 * every supervisor whose store refused a write (a single-node Redis store written by another
 * process too); `session-process/redis` re-exports them.
 */

/** Codes of {@link ClusterError}. */
export type ClusterErrorCode = 'REDIS_DATA_LOSS' | 'LEASE_LOST' | 'NODE_ID_IN_USE' | 'WRITE_FENCED';

/** Options of a {@link ClusterError}. */
export interface ClusterErrorOptions {
  /** The session concerned (`WRITE_FENCED`). */
  sessionId?: string | undefined;
  cause?: unknown;
}

/**
 * Something happened to the cluster as a whole, or to one session's writer: Redis lost its data
 * (`REDIS_DATA_LOSS`), this node could not renew its lease in time and stopped its sessions
 * (`LEASE_LOST`), another live process holds this node ID (`NODE_ID_IN_USE`), or a session's
 * write was refused because another node (or process) wrote it since (`WRITE_FENCED`: the
 * session leaves this process rather than fork; `sessionId` says which).
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
  /** The node that reports it (`undefined` from a supervisor that is not a cluster node). */
  readonly nodeId: string | undefined;
  /** The session concerned, for `WRITE_FENCED`. */
  readonly sessionId: string | undefined;
  constructor(
    code: ClusterErrorCode,
    nodeId: string | undefined,
    message: string,
    options: ClusterErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.nodeId = nodeId;
    this.sessionId = options.sessionId;
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
