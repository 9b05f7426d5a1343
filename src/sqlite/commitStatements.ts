import type Database from 'libsql';
import type { StoreWrite, StoreWriteResult } from '../index.js';
import { CommitMark } from './CommitMark.js';

/** @internal The statements that write a store's table, the same on either connection. */
export interface CommitSql {
  /** Parameters: id, version, data, due_at. */
  insert: string;
  /** Parameters: version, data, due_at, id, expected version. */
  update: string;
  /** Parameters: quarantined_at, quarantine_reason, id, version. */
  quarantine: string;
  /** Parameter: id. */
  remove: string;
  /** Counts the commit (returns the new count): see CommitMark. */
  bump: string;
}

/** @internal The write statements of the store's `table` (a name sqliteStore validated). */
export function commitSql(table: string): CommitSql {
  return {
    insert: `INSERT INTO ${table} (id, version, data, due_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    update: `UPDATE ${table} SET version = ?, data = ?, due_at = ?
       WHERE id = ? AND version = ? AND quarantined_at IS NULL`,
    // A quarantined record leaves the due index (due_at NULL) and is frozen (the update above).
    quarantine: `UPDATE ${table} SET due_at = NULL, quarantined_at = ?, quarantine_reason = ?
       WHERE id = ? AND version = ? AND quarantined_at IS NULL`,
    remove: `DELETE FROM ${table} WHERE id = ?`,
    bump: CommitMark.bumpSql(table),
  };
}

/** @internal One quarantine mark: the record's id and version, when and why. */
export interface QuarantineMark {
  id: string;
  version: number;
  at: number;
  reason: string;
}

/** @internal What a write transaction answers: its results, and the store's commit count after it. */
export interface Committed<T> {
  result: T;
  commits: number;
}

/** @internal The store's writes on one connection, each one committed transaction. */
export interface CommitStatements {
  /** A batch of writes with their expected versions: 'ok', or 'conflict' for a stale one. */
  save(writes: readonly StoreWrite[]): Committed<StoreWriteResult[]>;
  delete(id: string): Committed<void>;
  /** Quarantine marks (see SessionStore.quarantine): 'ok' for each record marked. */
  quarantine(marks: readonly QuarantineMark[]): Committed<StoreWriteResult[]>;
}

/**
 * @internal
 * Prepares the write statements on `db` and runs each write as one IMMEDIATE transaction that
 * also counts the commit (CommitMark): the group commit, one WAL fsync for all of a batch's
 * writes. Used by the store's own connection (`commitThread: false`) and by the commit thread.
 * It runs in the thread from its source text (see CommitThread), so it uses nothing from outside
 * its own body: no import, no module-level name.
 *
 * Written out rather than with libsql's `db.transaction()`: when SQLite itself rolls a failed
 * commit back (SQLITE_FULL, SQLITE_IOERR), that helper's own ROLLBACK fails with "cannot
 * rollback - no transaction is active", and that error replaced the real one.
 */
export function prepareCommits(db: Database.Database, sql: CommitSql): CommitStatements {
  const insert = db.prepare(sql.insert);
  const update = db.prepare(sql.update);
  const remove = db.prepare(sql.remove);
  const markQuarantined = db.prepare(sql.quarantine);
  const bump = db.prepare(sql.bump).raw();
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const verdict = (changes: number): StoreWriteResult => (changes === 1 ? 'ok' : 'conflict');
  const apply = (w: StoreWrite): StoreWriteResult =>
    verdict(
      w.expectedVersion === 0
        ? insert.run(w.id, w.version, w.data, w.dueAt).changes
        : update.run(w.version, w.data, w.dueAt, w.id, w.expectedVersion).changes,
    );
  const transaction = <T>(work: () => T): Committed<T> => {
    try {
      begin.run();
      const result = work();
      const commits = (bump.get() as [number])[0];
      commit.run();
      return { result, commits };
    } catch (err) {
      if (db.inTransaction) {
        try {
          rollback.run();
        } catch {
          // the error that matters is the first one
        }
      }
      throw err;
    }
  };
  return {
    save: (writes) => transaction(() => writes.map(apply)),
    delete: (id) =>
      transaction(() => {
        remove.run(id);
      }),
    quarantine: (marks) =>
      transaction(() =>
        marks.map((q) => verdict(markQuarantined.run(q.at, q.reason, q.id, q.version).changes)),
      ),
  };
}
