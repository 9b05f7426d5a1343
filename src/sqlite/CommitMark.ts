import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import type Database from 'libsql';
import { StoreCorruptError } from '../index.js';

/** Bytes of the mark file: JSON padded with spaces, rewritten in place. */
const MARK_BYTES = 96;

/**
 * @internal
 * Detects a SQLite store that lost data it had. The database counts its own commits (a row
 * updated in each write transaction), and a small file beside it, `<file>-<table>.mark`, holds
 * the highest count this store saw committed, with the store's random identity. A lost or
 * damaged `-wal` file, or a database file replaced by an older copy or deleted, takes the count
 * in the database back (or the identity away) but not the one in the mark file: the store
 * refuses to open with `STORE_CORRUPT` instead of starting with less, in silence. This is the
 * SQLite counterpart of the cluster's epoch key, which detects a Redis that lost its data.
 *
 * The mark file is written after each commit has returned (a `pwrite` of 96 bytes in place, not
 * fsynced: a few microseconds), so it is never ahead of what the database committed; it is
 * fsynced when the store opens and closes. After a power loss it can be behind, which weakens
 * detection but never reports a loss that did not happen. (With `synchronous: 'normal'` a power
 * loss may drop the last commits from the database itself: that is data lost, and reported.)
 */
export class CommitMark {
  readonly #path: string | undefined;
  readonly #store: string;
  #fd: number | undefined;
  #commits: number;

  /**
   * Reads the database's count and identity (creating them in a new table), compares them with
   * the mark file, and throws `STORE_CORRUPT` when the database holds less than the mark says
   * it had. `path` is the database file (`undefined` for an in-memory database: no mark).
   */
  constructor(db: Database.Database, table: string, path: string | undefined) {
    const markTable = `${table}_mark`;
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${markTable} (store TEXT NOT NULL, commits INTEGER NOT NULL)`,
    );
    const read = db.prepare(`SELECT store, commits FROM ${markTable} LIMIT 1`).raw();
    let row = read.get() as [string, number] | undefined;
    if (!row) {
      db.prepare(`INSERT INTO ${markTable} (store, commits) VALUES (?, 0)`).run(randomUUID());
      row = read.get() as [string, number];
    }
    [this.#store, this.#commits] = row;
    this.#path = path === undefined ? undefined : `${path}-${table}.mark`;
    if (this.#path === undefined) return;

    const mark = readMark(this.#path);
    if (mark && (mark.store !== this.#store || mark.commits > this.#commits))
      throw new StoreCorruptError(
        new Error(
          mark.store !== this.#store
            ? `${path} is not the database this store wrote (its mark file ${this.#path} ` +
                `names another): the data it had is lost (a deleted or replaced file?)`
            : `${path} holds ${this.#commits} commits of table '${table}', but this store had ` +
                `committed ${mark.commits}: data it had is lost (a lost or damaged -wal file, ` +
                `or the file replaced by an older copy)`,
          {
            cause: {
              markFile: this.#path,
              expected: mark,
              found: { store: this.#store, commits: this.#commits },
            },
          },
        ),
      );
    this.#fd = openSync(this.#path, 'w');
    this.#write(true);
  }

  /**
   * After a COMMIT returned: the mark file follows the count (never before). `commits` is the
   * count that the transaction's {@link CommitMark.bumpSql} statement returned, on either
   * connection (the store's own or the commit thread's); a rolled-back one is never passed.
   */
  committed(commits: number | undefined): void {
    if (commits === undefined || commits <= this.#commits) return;
    this.#commits = commits;
    this.#write(false);
  }

  /**
   * The statement that counts a commit and returns the new count: run inside each write
   * transaction, before its COMMIT (see prepareCommits).
   */
  static bumpSql(table: string): string {
    return `UPDATE ${table}_mark SET commits = commits + 1 RETURNING commits`;
  }

  /** Writes and fsyncs the mark file, and closes it (after the WAL checkpoint). */
  close(): void {
    this.#write(true);
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #write(sync: boolean): void {
    if (this.#fd === undefined) return;
    const text = JSON.stringify({ store: this.#store, commits: this.#commits });
    try {
      writeSync(this.#fd, text.padEnd(MARK_BYTES, ' '), 0);
      if (sync) fsyncSync(this.#fd);
    } catch {
      // A mark that could not be written lags behind the database: detection is weaker for a
      // while, a false report is impossible. The commit itself succeeded.
    }
  }
}

function readMark(path: string): { store: string; commits: number } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as { store?: unknown; commits?: unknown };
    if (typeof value.store === 'string' && typeof value.commits === 'number')
      return { store: value.store, commits: value.commits };
  } catch {
    // A torn mark file (a crash while it was first written) says nothing.
  }
  return undefined;
}
