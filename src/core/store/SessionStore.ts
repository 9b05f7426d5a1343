/**
 * The store seam. A store keeps one record per session: an opaque serialized document written by
 * the supervisor, the record's version, and the time the session next needs waking (its earliest
 * timer, idle deadline or lifetime end). The supervisor does the serializing, so a store is a
 * small keyed table with a compare-and-set and a due-time index: the memory, SQLite and Redis
 * stores are one page each, and a user's Postgres store can be too.
 */

/** A session as the store holds it. */
export interface StoredSession {
  readonly id: string;
  /** The version this record was written with (increases with every write of the session). */
  readonly version: number;
  /** The serialized record (JSON text written by the supervisor; the store never parses it). */
  readonly data: string;
  /** Epoch milliseconds at which the session must be woken, or `null` for never. */
  readonly dueAt: number | null;
  /**
   * Present when the record is quarantined (see {@link SessionStore.quarantine}): it could not be
   * restored, and the supervisor never tries again. Absent (not `undefined`) otherwise.
   */
  readonly quarantine?: QuarantineMarker;
}

/** Why and when a record was quarantined, as the store keeps it. */
export interface QuarantineMarker {
  /** Epoch milliseconds at which the record was quarantined. */
  readonly at: number;
  /** What was wrong with it: the restore error's message (at most 1,000 characters). */
  readonly reason: string;
}

/**
 * A quarantined record, as {@link SessionStore.quarantined} and `sessions.quarantined()` list it.
 *
 * @example
 * ```ts
 * for (const { id, quarantinedAt, reason } of await sessions.quarantined())
 *   console.log(id, new Date(quarantinedAt).toISOString(), reason);
 * ```
 */
export interface QuarantinedSession {
  readonly id: string;
  /** Epoch milliseconds at which the record was quarantined. */
  readonly quarantinedAt: number;
  /** What was wrong with it (the restore error's message). */
  readonly reason: string;
}

/** One write of a group commit. */
export interface StoreWrite {
  readonly id: string;
  /** The version the new record carries. Always greater than `expectedVersion`. */
  readonly version: number;
  /**
   * The version of the record this write replaces, or `0` when there must be no record yet.
   * A write whose expectation does not hold is not applied and reports `'conflict'`.
   */
  readonly expectedVersion: number;
  readonly data: string;
  readonly dueAt: number | null;
}

/** Outcome of each write of {@link SessionStore.save}, in the order of the writes. */
export type StoreWriteResult = 'ok' | 'conflict';

/** A session due for waking, from {@link SessionStore.due}. */
export interface DueSession {
  readonly id: string;
  readonly dueAt: number;
}

/** Stored sessions of one logic at one version, from {@link SessionStore.versions}. */
export interface StoredVersionCount {
  /** The logic's name (`cart`). */
  readonly logic: string;
  /** The `version` of the machine that wrote the records, or `null` for records without one. */
  readonly version: string | null;
  /** How many records. */
  readonly count: number;
}

/**
 * Where sessions are kept while they are out of memory and across restarts. Every method may
 * reject when the store is down; the supervisor reports that as `STORE_UNAVAILABLE`. A store
 * must answer or fail within a bounded time (no endless retries): a caller is waiting.
 *
 * `session-process/testing` exports `storeConformance`, the suite every store passes.
 *
 * @example
 * ```ts
 * import { createSessionSupervisor, memoryStore } from 'session-process';
 * const sessions = createSessionSupervisor({ logic: cartMachine, store: memoryStore() });
 * ```
 */
export interface SessionStore {
  /** A short name for telemetry and errors (`'memory'`, `'sqlite'`, `'redis'`). */
  readonly name: string;
  /** The stored record of a session, or `undefined` when there is none. */
  load(id: string): Promise<StoredSession | undefined>;
  /**
   * The same, synchronously, for stores that can (memory, SQLite). With it, the supervisor's
   * synchronous methods (`cast`, `snapshot`, `subscribe`, `touch`, `started`) reach a stored
   * session too; without it (Redis), they see a stored session once `restore(id)` or any
   * asynchronous method has brought it into memory.
   */
  loadSync?(id: string): StoredSession | undefined;
  /**
   * Applies the writes, each checked against the version it replaces; in one transaction where
   * the store has them (a group commit), so that one fsync covers many sessions. A write that
   * conflicts does not stop the others.
   */
  save(writes: readonly StoreWrite[]): Promise<StoreWriteResult[]>;
  /** Deletes a session's record (no error when there is none). */
  delete(id: string): Promise<void>;
  /**
   * Sessions whose `dueAt` is at or before `until`, earliest first, at most `limit` of them.
   * A quarantined record is never due.
   */
  due(until: number, limit: number): Promise<DueSession[]>;
  /**
   * How many records the store holds per logic and version (the `logic` and `logicVersion` of
   * each record). An operator's query, behind `sessions.versions()`: it may read every record
   * (a scan), so it is not for a hot path. Optional for a store of your own; without it,
   * `sessions.versions()` counts only the sessions in memory.
   */
  versions?(): Promise<StoredVersionCount[]>;
  /**
   * Quarantines the record of `id` if it still has `version`: the record stays under its ID
   * (`load` returns it, with `quarantine` set), leaves the due index, and is frozen (every `save`
   * to it conflicts) until `delete`. Persisted like the record itself, so a restart keeps it.
   * Answers `'conflict'`, changing nothing, when there is no such record, its version differs, or
   * it is already quarantined: exactly one caller quarantines a record (and reports it).
   */
  quarantine(id: string, version: number, marker: QuarantineMarker): Promise<StoreWriteResult>;
  /** Quarantined records, the oldest quarantine first, at most `limit` of them. */
  quarantined(limit: number): Promise<QuarantinedSession[]>;
  /**
   * How many records the store holds (optional; `maxStoredSessions` needs it). It may be a
   * moment old, but must not be far off: the supervisor asks at most once per `wakeIntervalMs`.
   */
  count?(): Promise<number>;
  /** Releases the store's resources (not the client it was given). */
  close(): Promise<void>;
}

/**
 * @internal
 * Counts records by logic and version from their serialized text (for stores that cannot query
 * inside a record). A record that does not parse is counted under logic `'?'`.
 */
export function countVersions(records: Iterable<string>): StoredVersionCount[] {
  const counts = new Map<string, { logic: string; version: string | null; count: number }>();
  for (const data of records) {
    let logic = '?';
    let version: string | null = null;
    try {
      const r = JSON.parse(data) as { logic?: unknown; logicVersion?: unknown };
      if (typeof r.logic === 'string') logic = r.logic;
      if (typeof r.logicVersion === 'string') version = r.logicVersion;
    } catch {
      // counted as '?'
    }
    const key = JSON.stringify([logic, version]);
    const row = counts.get(key);
    if (row) row.count++;
    else counts.set(key, { logic, version, count: 1 });
  }
  return sortVersionCounts([...counts.values()]);
}

/** @internal Rows by logic, then version (`null` first). */
export function sortVersionCounts<T extends { logic: string; version: string | null }>(
  rows: T[],
): T[] {
  return rows.sort((a, b) =>
    a.logic !== b.logic
      ? a.logic < b.logic
        ? -1
        : 1
      : (a.version ?? '') < (b.version ?? '')
        ? -1
        : (a.version ?? '') > (b.version ?? '')
          ? 1
          : 0,
  );
}
