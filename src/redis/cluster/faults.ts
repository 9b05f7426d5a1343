/**
 * @internal
 * Deterministic fault injection for the cluster's tests: points in a node's work where a test may
 * stall the event loop (a busy wait, as a long GC or CPU starvation would), pause the operation
 * (as SIGSTOP would), or act on a private Redis (restart it, FLUSHDB) at exactly that moment.
 * Given through `redisCluster({ testHooks })`; never in production. Statistics on a shared
 * machine do not prove a failover fix: each finding of issue 20 has a test built on these.
 *
 * @example
 * ```ts
 * redisCluster({ redis, nodeId: 'a', testHooks: {
 *   afterWriteSent: () => busyWait(2 * leaseMs),   // the save is out; the node stalls
 *   beforeStep: async (id) => { await cutOffRedis(); await otherNodeTook(id); },
 * } });
 * ```
 */
export interface ClusterFaultHooks {
  /**
   * Called synchronously right after a fenced save of these sessions was sent to Redis, before
   * its answer is read. A busy wait here is a node stalled with its write in flight.
   */
  afterWriteSent?(sessionIds: readonly string[]): void;
  /**
   * Called synchronously right after a session's record was asked of Redis (to bring it into
   * memory), before the answer is read. A busy wait here is a node stalled while loading.
   */
  afterLoadSent?(sessionId: string): void;
  /**
   * Called synchronously right after this node asked Redis for a session's ownership (the
   * acquire script), before the answer is read. A busy wait here is a node stalled while its
   * acquisition is on its way.
   */
  afterAcquireSent?(sessionId: string): void;
  /**
   * Awaited by the owner of a session after it checked its lease for a routed operation and
   * before the operation's step (`op`: `call`, `cast`, ...). A pause here is a node stopped
   * between its ownership check and the step.
   */
  beforeStep?(sessionId: string, op: string): void | Promise<void>;
  /** Called after each successful renewal of the node's lease (a point to restart Redis at). */
  afterRenew?(): void;
}
