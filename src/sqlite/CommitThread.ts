import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { StoreWrite, StoreWriteResult } from '../index.js';

/** @internal The statements the commit thread runs, written once in sqliteStore.ts. */
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

/** @internal What the commit thread is opened with. */
export interface CommitThreadOptions {
  file: string;
  synchronous: 'full' | 'normal';
  busyTimeoutMs: number;
  sql: CommitSql;
}

/** @internal One quarantine mark: the record's id and version, when and why. */
export interface QuarantineMark {
  id: string;
  version: number;
  at: number;
  reason: string;
}

type Request =
  | { seq: number; op: 'save'; writes: readonly StoreWrite[] }
  | { seq: number; op: 'delete'; id: string }
  | { seq: number; op: 'quarantine'; marks: readonly QuarantineMark[] }
  | { seq: number; op: 'close' };

type Reply =
  | { seq: number; ok: true; results?: StoreWriteResult[]; commits?: number }
  | { seq: number; ok: false; error: { message: string; code?: string; rawCode?: number } };

/** @internal What a request answers: the results of a save or of quarantine marks, the commit count. */
interface Done {
  results: StoreWriteResult[];
  commits: number | undefined;
}

interface Pending {
  resolve(reply: Done): void;
  reject(err: unknown): void;
}

/**
 * @internal
 * The SQLite store's writes on a thread of their own, with its own libsql connection to the file:
 * a commit and its fsync (~1–3 ms, far more on a slow disk) no longer stop the event loop, so one
 * client driving durable writes does not delay every other session's requests (issue 22).
 *
 * The main thread keeps its connection for reads (`load`, `loadSync`, `due`). A write resolves
 * only after its COMMIT returned in the thread, so it is on disk (`synchronous: 'full'`) and any
 * read that the main thread starts afterwards sees it: in WAL mode each read transaction sees
 * every transaction committed before it began, whichever connection committed it. Writes keep
 * their order (one thread, one queue), so a batch is still one transaction, one fsync.
 *
 * The thread's code is {@link commitThreadMain}, run from its source text (`eval`), so the same
 * code runs from `dist/` and from the TypeScript sources under the test runner.
 */
export class CommitThread {
  readonly #options: CommitThreadOptions;
  readonly #pending = new Map<number, Pending>();
  #worker: Worker | undefined;
  #seq = 0;

  constructor(options: CommitThreadOptions) {
    this.#options = options;
    this.#start();
  }

  /** Applies a batch in one transaction; the results, and the store's commit count after it. */
  save(writes: readonly StoreWrite[]) {
    return this.#send({ seq: 0, op: 'save', writes });
  }

  delete(id: string) {
    return this.#send({ seq: 0, op: 'delete', id });
  }

  /**
   * Marks records quarantined in one transaction (see SessionStore.quarantine); `results` says
   * of each whether it was marked.
   */
  quarantine(marks: readonly QuarantineMark[]) {
    return this.#send({ seq: 0, op: 'quarantine', marks });
  }

  /** Checkpoints the WAL (TRUNCATE), closes the thread's connection and ends the thread. */
  async close(): Promise<void> {
    if (!this.#worker) return;
    try {
      await this.#send({ seq: 0, op: 'close' });
    } finally {
      const worker = this.#worker;
      this.#worker = undefined;
      await worker?.terminate();
    }
  }

  #start(): Worker {
    // `require` is handed over inside the source text: a bundler that rewrites the identifier
    // (esbuild's `__require`) in the function's body would leave the thread without one.
    const worker = new Worker(`(${commitThreadMain.toString()})(require)`, {
      eval: true,
      workerData: { ...this.#options, libsql: createRequire(import.meta.url).resolve('libsql') },
    });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const pending = this.#pending.get(reply.seq);
      if (!pending) return;
      this.#pending.delete(reply.seq);
      if (this.#pending.size === 0) worker.unref();
      if (reply.ok)
        pending.resolve({
          results: reply.results ?? [],
          commits: reply.commits,
        });
      else pending.reject(Object.assign(new Error(reply.error.message), reply.error));
    });
    // The thread died (out of memory, a crash in the native module): what it was doing is
    // unknown, so each waiting write fails (the write-behind retries; its version check makes a
    // write that did land conflict-free to adopt), and the next write starts a new thread.
    const died = (err: unknown) => {
      if (this.#worker === worker) this.#worker = undefined;
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      for (const p of pending) p.reject(err);
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`the SQLite commit thread exited (code ${code})`)));
    this.#worker = worker;
    return worker;
  }

  #send(request: Request): Promise<Done> {
    const worker = this.#worker ?? this.#start();
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      // While a write is out, the thread keeps the process alive: an acknowledged write must
      // not be cut short by an exit. Idle, it does not hold the process open.
      if (this.#pending.size === 0) worker.ref();
      this.#pending.set(seq, { resolve, reject });
      worker.postMessage({ ...request, seq });
    });
  }
}

/**
 * @internal
 * The commit thread's code. It runs alone in a worker (from its source text), so it uses nothing
 * from outside its own body but the `require` it is given and `workerData`.
 */
export function commitThreadMain(load: NodeJS.Require): void {
  const { parentPort, workerData } = load(
    'node:worker_threads',
  ) as typeof import('node:worker_threads');
  const options = workerData as CommitThreadOptions & { libsql: string };
  const Database = load(options.libsql) as typeof import('libsql');
  const db = new Database(options.file);
  db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs}`);
  db.exec(`PRAGMA synchronous = ${options.synchronous.toUpperCase()}`);
  const insert = db.prepare(options.sql.insert);
  const update = db.prepare(options.sql.update);
  const remove = db.prepare(options.sql.remove);
  const quarantine = db.prepare(options.sql.quarantine);
  const bump = db.prepare(options.sql.bump).raw();
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const apply = (w: StoreWrite): StoreWriteResult => {
    const changes =
      w.expectedVersion === 0
        ? insert.run(w.id, w.version, w.data, w.dueAt).changes
        : update.run(w.version, w.data, w.dueAt, w.id, w.expectedVersion).changes;
    return changes === 1 ? 'ok' : 'conflict';
  };
  // Written out rather than with db.transaction(): see the same in sqliteStore.ts.
  const transaction = <T>(work: () => T): { result: T; commits: number } => {
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
  parentPort!.on('message', (m: Request) => {
    try {
      if (m.op === 'save') {
        const { result, commits } = transaction(() => m.writes.map(apply));
        parentPort!.postMessage({ seq: m.seq, ok: true, results: result, commits });
      } else if (m.op === 'delete') {
        const { commits } = transaction(() => remove.run(m.id));
        parentPort!.postMessage({ seq: m.seq, ok: true, commits });
      } else if (m.op === 'quarantine') {
        const { result, commits } = transaction(() =>
          m.marks.map((q) =>
            quarantine.run(q.at, q.reason, q.id, q.version).changes === 1 ? 'ok' : 'conflict',
          ),
        );
        parentPort!.postMessage({ seq: m.seq, ok: true, results: result, commits });
      } else {
        try {
          db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
        } finally {
          db.close();
          parentPort!.postMessage({ seq: m.seq, ok: true });
        }
      }
    } catch (err) {
      const e = err as { message?: string; code?: string; rawCode?: number };
      parentPort!.postMessage({
        seq: m.seq,
        ok: false,
        error: { message: String(e.message), code: e.code, rawCode: e.rawCode },
      });
    }
  });
}
