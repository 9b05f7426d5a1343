import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { StoreWrite, StoreWriteResult } from '../index.js';
import { type CommitSql, prepareCommits, type QuarantineMark } from './commitStatements.js';

/** @internal What the commit thread is opened with. */
export interface CommitThreadOptions {
  file: string;
  synchronous: 'full' | 'normal';
  busyTimeoutMs: number;
  sql: CommitSql;
}

type Request =
  | { seq: number; op: 'save'; writes: readonly StoreWrite[] }
  | { seq: number; op: 'delete'; id: string }
  | { seq: number; op: 'quarantine'; marks: readonly QuarantineMark[] }
  | { seq: number; op: 'close' };

type Reply =
  | { seq: number; ok: true; results?: StoreWriteResult[]; commits?: number }
  | { seq: number; ok: false; error: { message: string; code?: string; rawCode?: number } };

/**
 * @internal What a request answers: the results of a save or of quarantine marks, and the store's
 * commit count after it (see CommitMark).
 */
export interface CommitThreadDone<T = StoreWriteResult[]> {
  result: T;
  commits: number | undefined;
}

interface Pending {
  resolve(reply: CommitThreadDone): void;
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
 * The thread's code is {@link commitThreadMain} with {@link prepareCommits} (the transactions the
 * store's own connection runs with `commitThread: false`), run from their source text (`eval`),
 * so the same code runs from `dist/` and from the TypeScript sources under the test runner.
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

  async delete(id: string): Promise<CommitThreadDone<void>> {
    const { commits } = await this.#send({ seq: 0, op: 'delete', id });
    return { result: undefined, commits };
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
    const worker = new Worker(
      `(${commitThreadMain.toString()})(require, ${prepareCommits.toString()})`,
      {
        eval: true,
        workerData: { ...this.#options, libsql: createRequire(import.meta.url).resolve('libsql') },
      },
    );
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const pending = this.#pending.get(reply.seq);
      if (!pending) return;
      this.#pending.delete(reply.seq);
      if (this.#pending.size === 0) worker.unref();
      if (reply.ok)
        pending.resolve({
          result: reply.results ?? [],
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

  #send(request: Request): Promise<CommitThreadDone> {
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
 * from outside its own body but the `require` and the {@link prepareCommits} it is given, and
 * `workerData`.
 */
export function commitThreadMain(load: NodeJS.Require, prepare: typeof prepareCommits): void {
  const { parentPort, workerData } = load(
    'node:worker_threads',
  ) as typeof import('node:worker_threads');
  const options = workerData as CommitThreadOptions & { libsql: string };
  const Database = load(options.libsql) as typeof import('libsql');
  const db = new Database(options.file);
  db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs}`);
  db.exec(`PRAGMA synchronous = ${options.synchronous.toUpperCase()}`);
  const writes = prepare(db, options.sql);
  parentPort!.on('message', (m: Request) => {
    try {
      if (m.op === 'save') {
        const { result, commits } = writes.save(m.writes);
        parentPort!.postMessage({ seq: m.seq, ok: true, results: result, commits });
      } else if (m.op === 'delete') {
        const { commits } = writes.delete(m.id);
        parentPort!.postMessage({ seq: m.seq, ok: true, commits });
      } else if (m.op === 'quarantine') {
        const { result, commits } = writes.quarantine(m.marks);
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
