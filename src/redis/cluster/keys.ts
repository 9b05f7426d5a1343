/**
 * Every Redis key and channel name of the cluster, written once (as ws keeps its wire names in
 * `lib/constants.js`). All of them start with the cluster's `prefix`, so that several clusters,
 * and the tests, share one Redis without seeing each other.
 */

/** @internal The names one cluster uses, derived from its prefix. */
export interface ClusterKeys {
  readonly prefix: string;
  /** A random value written by the first node; its disappearance means Redis lost its data. */
  readonly epoch: string;
  /** Sorted set: node ID by lease expiry (Redis time, ms). `stats().cluster` reads it. */
  readonly nodes: string;
  /** Sorted set: session ID by the time it must be woken (`dueAt`). */
  readonly due: string;
  /** Sorted set: quarantined session ID by the time it was quarantined. */
  readonly quarantined: string;
  /** Set of the IDs of every session that exists in the cluster (in memory somewhere or stored). */
  readonly ids: string;
  /** Channel announcing `+id` / `-id` to every node's directory. */
  readonly directory: string;
  /** A node's lease: its incarnation, with a TTL of `leaseMs`. */
  node(nodeId: string): string;
  /** A node's request/reply channel. */
  channel(nodeId: string): string;
  /** A session's owner record: `node|incarnation|counter` (the fencing token). */
  owner(sessionId: string): string;
  /** A session's stored record (hash: `v` version, `d` data, `due`). */
  record(sessionId: string): string;
  /** A session's applied idempotency IDs (hash: request ID to its reply, '' while unknown). */
  applied(sessionId: string): string;
  /** A session's view channel: snapshots and `ended` for subscribers on every node. */
  view(sessionId: string): string;
  /** An ID a rename moved away from, for `rotatedIdTtlMs`: no node brings it back meanwhile. */
  rotated(sessionId: string): string;
}

/** @internal */
export function clusterKeys(prefix: string): ClusterKeys {
  return {
    prefix,
    epoch: `${prefix}epoch`,
    nodes: `${prefix}nodes`,
    due: `${prefix}due`,
    quarantined: `${prefix}quarantined`,
    ids: `${prefix}ids`,
    directory: `${prefix}dir`,
    node: (nodeId) => `${prefix}n:${nodeId}`,
    channel: (nodeId) => `${prefix}c:${nodeId}`,
    owner: (id) => `${prefix}o:${id}`,
    record: (id) => `${prefix}s:${id}`,
    applied: (id) => `${prefix}a:${id}`,
    view: (id) => `${prefix}v:${id}`,
    rotated: (id) => `${prefix}r:${id}`,
  };
}

/** @internal The prefix of the channel names a node's subscriber connection receives. */
export const VIEW_INFIX = 'v:';

/** How long a session remembers the idempotency IDs it applied (and their replies). */
export const APPLIED_TTL_MS = 5 * 60_000;

/** The default key prefix. */
export const DEFAULT_PREFIX = 'sp:';
