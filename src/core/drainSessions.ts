import type { Entry } from './Entry.js';
import type { Persistence } from './persistence/Persistence.js';

/** @internal What draining needs of the session lifecycle. */
export interface DrainHooks {
  /** Counts a change nobody was told of yet (so it is saved). */
  seen(entry: Entry): void;
  /** Takes a session out of memory without ending it. */
  leave(entry: Entry): void;
}

/**
 * @internal
 * A supervisor's `drain()`: saves every session in memory and takes it out once its waiting
 * calls are answered, by the deadline. How many left.
 */
export async function drainSessions(
  entries: Iterable<Entry>,
  persist: Persistence,
  hooks: DrainHooks,
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  const results = await Promise.all(
    [...entries].map((entry) => handOver(entry, persist, hooks, deadline)),
  );
  return results.filter(Boolean).length;
}

/** Saves a session and takes it out of memory once its waiting calls are answered. */
async function handOver(
  entry: Entry,
  persist: Persistence,
  hooks: DrainHooks,
  deadline: number,
): Promise<boolean> {
  // A call waiting for a later reply (after an invoked promise) is answered here rather than
  // cut off; past the deadline it is left to the caller (a cluster node asks the new owner).
  while (entry.calls?.size && !entry.ended && !entry.left && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 5));
  for (;;) {
    if (entry.ended || entry.left) return false;
    hooks.seen(entry);
    const saved = persist.writer.whenSaved(entry);
    if (saved) {
      // A store that does not answer keeps the session here (where it is safe) past the deadline.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => {
        timer = setTimeout(() => r('late'), Math.max(0, deadline - performance.now()));
      });
      const outcome = await Promise.race([saved.then(() => 'saved' as const), late]).catch(
        () => 'failed' as const,
      );
      clearTimeout(timer);
      if (outcome !== 'saved') return false;
    }
    if (entry.ended || entry.left) return false;
    if (entry.storedVersion >= entry.version) break;
    if (performance.now() >= deadline) return false;
  }
  hooks.leave(entry);
  persist.passivated++;
  return true;
}

/** @internal A supervisor's `passivate(id)`: saves a session, then takes it out of memory. */
export async function passivateSession(
  entry: Entry | undefined,
  persist: Persistence | undefined,
  hooks: DrainHooks,
): Promise<boolean> {
  if (!entry || !persist) return false;
  await persist.writer.whenSaved(entry);
  if (entry.ended || entry.left || entry.storedVersion < entry.version) return false;
  hooks.leave(entry);
  return true;
}
