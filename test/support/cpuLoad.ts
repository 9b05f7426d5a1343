import { type ChildProcess, spawn } from 'node:child_process';

/**
 * Starts `n` busy child processes (each spins one core) for a long-tier test that must hold
 * "under load" on this 2-core machine; returns the function that stops them (by their PIDs).
 *
 * @example
 * ```ts
 * const stopLoad = startCpuLoad(2);
 * try { await runWorkload(); } finally { await stopLoad(); }
 * ```
 */
export function startCpuLoad(n = 2): () => Promise<void> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < n; i++)
    children.push(
      spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore', detached: false }),
    );
  return async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
  };
}
