/**
 * Key layout of the Redis store, written once here (the cluster module writes next to it).
 *
 * - `${prefix}{${id}}`: the session's record, a hash `v` (version), `t` (due time, epoch ms;
 *   absent for none), `d` (the supervisor's data). The braces are a Redis Cluster hash tag: every
 *   key a session owns hashes to the same slot, so a script can touch them together.
 * - `${prefix}due`: a sorted set, member = session ID, score = due time: the wakeup index.
 * - `${prefix}quarantined`: a sorted set, member = session ID, score = the time it was
 *   quarantined (the record then also has `q`, that time, and `r`, the reason).
 *
 * @internal
 */
export const recordKey = (prefix: string, id: string): string => `${prefix}{${id}}`;

/** @internal */
export const dueKey = (prefix: string): string => `${prefix}due`;

/** @internal */
export const quarantineKey = (prefix: string): string => `${prefix}quarantined`;

/** Hash fields of a record. @internal */
export const FIELD = {
  version: 'v',
  dueAt: 't',
  data: 'd',
  quarantinedAt: 'q',
  quarantineReason: 'r',
} as const;

/** @default prefix of {@link recordKey} and {@link dueKey}. @internal */
export const DEFAULT_PREFIX = 'sp:';
