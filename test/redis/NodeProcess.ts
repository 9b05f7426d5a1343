import type { ChildProcess } from 'node:child_process';

/** What a node process answers to a request: `n` is the request's number. */
export interface Reply {
  n: number;
  ok: boolean;
  v?: unknown;
  code?: string;
}

/**
 * A cluster node in a child process, driven over IPC (the Jepsen-style and rolling-deploy
 * workloads): each request gets its reply, `CLIENT_TIMEOUT` after `timeoutMs`, or `EXITED` once
 * the process is gone (also when it dies between the check and the send).
 */
export class NodeProcess {
  /** Set by a workload that SIGSTOPs the process. */
  paused = false;
  readonly #pending = new Map<number, (r: Reply) => void>();
  #seq = 0;
  constructor(
    readonly nodeId: string,
    readonly child: ChildProcess,
  ) {
    child.on('message', (m: Reply) => {
      const resolve = this.#pending.get(m.n);
      this.#pending.delete(m.n);
      resolve?.(m);
    });
    child.on('exit', () => {
      for (const [n, resolve] of this.#pending) resolve({ n, ok: false, code: 'EXITED' });
      this.#pending.clear();
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  request(msg: object, timeoutMs = 10_000): Promise<Reply> {
    const n = ++this.#seq;
    return new Promise((resolve) => {
      if (!this.alive) return resolve({ n, ok: false, code: 'EXITED' });
      const timer = setTimeout(() => {
        this.#pending.delete(n);
        resolve({ n, ok: false, code: 'CLIENT_TIMEOUT' });
      }, timeoutMs);
      this.#pending.set(n, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.child.send({ ...msg, n }, (err) => {
        if (!err || !this.#pending.has(n)) return;
        this.#pending.get(n)!({ n, ok: false, code: 'EXITED' });
        this.#pending.delete(n);
      });
    });
  }
}
