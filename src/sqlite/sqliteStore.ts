import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'libsql';
import {
  type DueSession,
  type QuarantinedSession,
  type QuarantineMarker,
  type SessionStore,
  StoreCorruptError,
  type StoredSession,
  type StoredVersionCount,
  type StoreWriteResult,
} from '../index.js';
import { CommitMark } from './CommitMark.js';
import { CommitThread, type CommitThreadDone } from './CommitThread.js';
import { createSchema } from './createSchema.js';
import {
  type CommitStatements,
  type Committed,
  commitSql,
  prepareCommits,
} from './commitStatements.js';

/** Options of {@link sqliteStore}: a `path` to open, or a `database` the caller opened. */
export interface SqliteStoreOptions {
  /**
   * The database file. It and its parent directory are created when missing. Ignored when
   * `database` is given.
   */
  path?: string;
  /**
   * An open libsql `Database` to use instead of opening `path`. The store configures it (WAL,
   * `synchronous`, busy timeout), creates its table, and does not close it on `close()`.
   */
  database?: Database.Database;
  /**
   * The table that holds the records (letters, digits and `_`): several stores can share a file.
   * @default 'sessions'
   */
  table?: string;
  /**
   * When a commit reaches the disk. `'full'`: each `save` fsyncs the write-ahead log before it
   * resolves, so an acknowledged write survives `kill -9`, an OS crash and a power loss.
   * `'normal'`: the log is fsynced only at checkpoints, so an acknowledged write survives
   * `kill -9` (it is in the OS's page cache) but the last transactions may be lost on an OS
   * crash or power loss; about 1 ms faster per commit on an SSD. The database itself is never
   * corrupted in either mode.
   * @default 'full'
   */
  synchronous?: 'full' | 'normal';
  /**
   * How long a write waits for another connection's write lock (another process writing the same
   * file) before it fails. SQLite waits synchronously (on the commit thread; on the event loop
   * with `commitThread: false`), so keep it short: one process per file is the intended use (use
   * `session-process/redis` to share sessions).
   * @default 1_000
   */
  busyTimeoutMs?: number;
  /**
   * Whether commits run on a thread of their own (a `worker_threads` worker with its own libsql
   * connection to the file), so that a commit and its fsync do not block the event loop: other
   * sessions' requests are served while a batch is being written. A `save` still resolves only
   * once its transaction is committed (fsynced with `synchronous: 'full'`), and a read started
   * after that sees it. `false` commits on the event loop, synchronously. An in-memory database
   * always commits inline.
   * @example
   * ```ts
   * const store = sqliteStore({ path: 'data/sessions.db', commitThread: false });
   * ```
   * @default true
   */
  commitThread?: boolean;
}

/** Size figures of a {@link SqliteSessionStore}. */
export interface SqliteStoreStats {
  /** Records in the table. */
  readonly sessions: number;
  /** Bytes of the database file (page count × page size, after a WAL checkpoint). */
  readonly bytes: number;
}

/** The {@link SessionStore} that {@link sqliteStore} returns, with its size figures. */
export interface SqliteSessionStore extends SessionStore {
  readonly name: 'sqlite';
  /** The libsql connection (for inspection; the store's table is private to it). */
  readonly database: Database.Database;
  /**
   * Records and bytes on disk. Checkpoints the WAL first, so `bytes / sessions` is what a
   * session costs on disk.
   */
  stats(): Promise<SqliteStoreStats>;
}

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A {@link SessionStore} in one SQLite file (libsql): no server, durable, the default for a
 * single process. WAL mode; each `save` batch is one transaction, so one fsync covers every
 * session of a group commit; a partial index on the due time serves wakeups.
 *
 * libsql's API is synchronous, so commits (and their fsync, ~1 ms per batch with
 * `synchronous: 'full'` on an SSD, whatever its size) run on a thread of their own with their own
 * connection (`commitThread`), off the event loop; reads stay on the event loop's connection and
 * see every write whose `save` resolved. Run one process per file.
 *
 * `close()` checkpoints the WAL into the file (TRUNCATE). A mark file beside the database
 * (`<file>-<table>.mark`) records how many commits the store had: opening a database that holds
 * fewer (a lost `-wal` file, a replaced file) throws `STORE_CORRUPT` instead of starting with
 * less. SQLite's own errors (`SQLITE_FULL`, ...) are thrown as they are; a damaged file is
 * `STORE_CORRUPT`.
 *
 * @example
 * ```ts
 * import { createSessionSupervisor } from 'session-process';
 * import { sqliteStore } from 'session-process/sqlite';
 * const sessions = createSessionSupervisor({
 *   logics: { cart: cartMachine },
 *   store: sqliteStore({ path: 'data/sessions.db' }),
 *   durability: 'durable',
 * });
 * ```
 */
export function sqliteStore(options: SqliteStoreOptions): SqliteSessionStore {
  const table = options.table ?? 'sessions';
  if (!TABLE_NAME.test(table)) throw new TypeError(`sqliteStore: invalid table name '${table}'`);
  const synchronous = options.synchronous ?? 'full';
  if (synchronous !== 'full' && synchronous !== 'normal')
    throw new TypeError(`sqliteStore: synchronous must be 'full' or 'normal'`);
  const owned = options.database === undefined;
  let db: Database.Database;
  if (options.database) db = options.database;
  else {
    if (!options.path) throw new TypeError('sqliteStore: give a `path` or a `database`');
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    db = new Database(options.path);
  }

  const busyTimeoutMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 1_000));
  let mark: CommitMark;
  let file: string | undefined;
  try {
    createSchema(db, table, synchronous, busyTimeoutMs);
    file = fileOf(db);
    mark = new CommitMark(db, table, file);
  } catch (err) {
    // A file that is not a database, a damaged one, a lost WAL: the store does not open.
    if (owned) db.close();
    throw storeError(err);
  }

  // raw(): rows as arrays; libsql's row objects carry an extra `_metadata` member.
  const selectOne = db
    .prepare(
      `SELECT version, data, due_at, quarantined_at, quarantine_reason FROM ${table} WHERE id = ?`,
    )
    .raw();
  const selectQuarantined = db
    .prepare(
      `SELECT id, quarantined_at, quarantine_reason FROM ${table}
         WHERE quarantined_at IS NOT NULL ORDER BY quarantined_at LIMIT ?`,
    )
    .raw();
  const selectDue = db
    .prepare(
      `SELECT id, due_at FROM ${table} WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?`,
    )
    .raw();
  const countRows = db.prepare(`SELECT count(*) FROM ${table}`).raw();
  // Read inside each record (SQLite's JSON functions): an operator's query, one scan.
  const countVersions = db
    .prepare(
      `SELECT json_extract(data, '$.logic'), json_extract(data, '$.logicVersion'), count(*) FROM ${table} GROUP BY 1, 2 ORDER BY 1, 2`,
    )
    .raw();
  const pageCount = db.prepare('PRAGMA page_count').raw();
  const pageSize = db.prepare('PRAGMA page_size').raw();

  const sql = commitSql(table);
  // Commits on a thread of their own (its own connection to the file), off the event loop.
  const thread =
    (options.commitThread ?? true) && file !== undefined
      ? new CommitThread({ file, synchronous, busyTimeoutMs, sql })
      : undefined;
  // Or on the event loop, synchronously: the same transactions, on this connection.
  const writer: CommitThread | CommitStatements = thread ?? prepareCommits(db, sql);
  // The mark file follows each commit, never ahead of it.
  const settle = <T>(done: CommitThreadDone<T>): T => {
    mark.committed(done.commits);
    return done.result;
  };
  /**
   * One write transaction (its work is `run`). Inline, it answers synchronously: no promise hop
   * on the event loop's fast path.
   */
  const commit = <T>(
    run: (w: CommitThread | CommitStatements) => Committed<T> | Promise<CommitThreadDone<T>>,
  ): T | Promise<T> => {
    let done: Committed<T> | Promise<CommitThreadDone<T>>;
    try {
      done = run(writer);
    } catch (err) {
      throw storeError(err);
    }
    if (!(done instanceof Promise)) return settle(done);
    return done.then(settle<T>, (err: unknown) => {
      throw storeError(err);
    });
  };

  // Quarantine marks asked for in one tick (the waker's batch of unrestorable records) commit
  // together: one fsync for the batch instead of one per record.
  interface Mark {
    id: string;
    version: number;
    marker: QuarantineMarker;
    resolve(result: StoreWriteResult): void;
    reject(error: unknown): void;
  }
  let marks: Mark[] | undefined;
  const markBatch = async (batch: readonly Mark[]): Promise<StoreWriteResult[]> => {
    const marked = batch.map(({ id, version, marker }) => ({
      id,
      version,
      at: marker.at,
      reason: marker.reason,
    }));
    return commit((w) => w.quarantine(marked));
  };
  const flushMarks = async () => {
    const batch = marks ?? [];
    marks = undefined;
    if (batch.length === 0) return;
    let results: StoreWriteResult[];
    try {
      results = await markBatch(batch);
    } catch (err) {
      for (const m of batch) m.reject(storeError(err));
      return;
    }
    for (const [i, m] of batch.entries()) m.resolve(results[i]!);
  };

  let closed = false;
  const open = () => {
    if (closed) throw new Error('sqliteStore: the store is closed');
  };
  const loadSync = (id: string): StoredSession | undefined => {
    open();
    const row = reading(() => selectOne.get(id)) as
      | [number, string, number | null, number | null, string | null]
      | undefined;
    if (!row) return undefined;
    const stored = { id, version: row[0], data: row[1], dueAt: row[2] };
    return row[3] === null
      ? stored
      : { ...stored, quarantine: { at: row[3], reason: row[4] ?? '' } };
  };

  return {
    name: 'sqlite',
    database: db,
    async load(id): Promise<StoredSession | undefined> {
      return loadSync(id);
    },
    // libsql answers synchronously: the supervisor's synchronous methods reach stored sessions.
    loadSync,
    async save(writes): Promise<StoreWriteResult[]> {
      open();
      if (writes.length === 0) return [];
      return commit((w) => w.save(writes));
    },
    async delete(id) {
      open();
      return commit((w) => w.delete(id));
    },
    async due(until, limit): Promise<DueSession[]> {
      open();
      const rows = reading(() => selectDue.all(until, limit)) as [string, number][];
      return rows.map(([id, dueAt]) => ({ id, dueAt }));
    },
    quarantine(id, version, marker): Promise<StoreWriteResult> {
      try {
        open();
      } catch (err) {
        return Promise.reject(err);
      }
      return new Promise((resolve, reject) => {
        if (marks === undefined) {
          marks = [];
          setImmediate(() => void flushMarks());
        }
        marks.push({ id, version, marker, resolve, reject });
      });
    },
    async quarantined(limit): Promise<QuarantinedSession[]> {
      open();
      const rows = reading(() => selectQuarantined.all(limit)) as [string, number, string | null][];
      return rows.map(([id, quarantinedAt, reason]) => ({
        id,
        quarantinedAt,
        reason: reason ?? '',
      }));
    },
    async count(): Promise<number> {
      open();
      return reading(() => (countRows.get() as [number])[0]);
    },
    async versions(): Promise<StoredVersionCount[]> {
      open();
      const rows = reading(() => countVersions.all() as [unknown, unknown, number][]);
      return rows.map(([logic, version, count]) => ({
        logic: typeof logic === 'string' ? logic : '?',
        version: typeof version === 'string' ? version : null,
        count,
      }));
    },
    async stats(): Promise<SqliteStoreStats> {
      open();
      return reading(() => {
        db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
        const sessions = (countRows.get() as [number])[0];
        const bytes = (pageCount.get() as [number])[0] * (pageSize.get() as [number])[0];
        return { sessions, bytes };
      });
    },
    async close() {
      if (closed) return;
      await flushMarks(); // marks asked for before close are committed, not lost
      closed = true;
      // Everything the WAL holds goes into the database file, and the WAL is emptied: after a
      // clean close, the file alone holds every session (a lost -wal file loses nothing).
      // libsql's close() does not checkpoint (measured: a 2.5 MB WAL stayed beside a 4 KB file).
      try {
        await thread?.close();
      } catch {
        // its checkpoint failed (a full disk, say): this connection tries again just below
      }
      try {
        db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      } finally {
        mark.close();
        if (owned) db.close();
      }
    },
  };
}

/**
 * SQLite's own verdict on a damaged file (`SQLITE_CORRUPT`, `SQLITE_NOTADB`) is `STORE_CORRUPT`;
 * every other error (`SQLITE_FULL`, `SQLITE_READONLY`, `SQLITE_IOERR`, `SQLITE_BUSY`) is thrown
 * as SQLite raised it, and the supervisor reports it as `STORE_UNAVAILABLE` with it as `cause`.
 */
function storeError(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code))
    return new StoreCorruptError(err);
  return err;
}

function reading<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw storeError(err);
  }
}

/** The file the database is in (`undefined` in memory). */
function fileOf(db: Database.Database): string | undefined {
  const files = db.prepare('PRAGMA database_list').raw().all() as [number, string, string][];
  const file = files.find(([, name]) => name === 'main')?.[2];
  return file ? file : undefined;
}
