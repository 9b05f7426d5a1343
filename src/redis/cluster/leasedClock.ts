import type { SupervisorOptions } from '../../index.js';
import type { NodeLease } from './NodeLease.js';

/**
 * @internal The XState clock of a node's sessions, whose delayed events (`after`) are steps too:
 * each fires only after the lease is checked, on the monotonic clock, at that moment. After a
 * pause (SIGSTOP, a long GC) the timers due meanwhile fire in due order, possibly before the
 * lease's own timer: without this check a session's timer would run on a node that lost it.
 */
export function leasedClock(
  base: SupervisorOptions['clock'],
  lease: NodeLease,
): NonNullable<SupervisorOptions['clock']> {
  const inner = base ?? {
    setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
    clearTimeout: (h: NodeJS.Timeout) => clearTimeout(h),
  };
  return {
    setTimeout: (fn: (...args: any[]) => void, ms: number) =>
      inner.setTimeout(() => {
        // valid() stops every session here when the lease has lapsed (the timer's too).
        if (lease.valid()) fn();
      }, ms),
    clearTimeout: (h: unknown) => inner.clearTimeout(h as never),
  };
}
