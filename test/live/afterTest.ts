import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, vi } from 'vitest';

// The afterEach below is registered in each test file that imports this module (each file
// evaluates it in its own context), after the support kit's own (test/support is imported first):
// vitest runs after-hooks in reverse order, so these cleanups and the return to real timers come
// before the kit closes the test's servers.

/** Collects what is published on a diagnostics channel until the test ends. */
export function collect<T>(name: string): T[] {
  const seen: T[] = [];
  const listener = (msg: unknown) => seen.push(msg as T);
  subscribe(name, listener);
  onTestFinishedCleanup(() => unsubscribe(name, listener));
  return seen;
}

const cleanups: Array<() => void> = [];
/** Runs `fn` after the test (before the support kit closes its servers). */
export function onTestFinishedCleanup(fn: () => void): void {
  cleanups.push(fn);
}
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
  vi.useRealTimers();
});
