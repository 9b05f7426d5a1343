import { SimulatedClock } from 'xstate';

interface Timer {
  due: number;
  timeoutMs: number;
}

/**
 * An XState clock for model-based tests: XState's `SimulatedClock`, plus a record of the timers
 * still pending, so the runner can move time to exactly when a given delayed event is due.
 * Give it to a supervisor as `clock` (the runner does that for the supervisors it creates).
 *
 * @example
 * ```ts
 * const clock = new TestClock();
 * const sessions = createSessionSupervisor({ logic: cartMachine, clock, idleTimeoutMs: 0 });
 * // ... a cart sits in shopping.active, its 15-minute reservation armed
 * clock.fireNext(15 * 60_000); // the reservation expires now
 * ```
 */
export class TestClock {
  readonly #clock = new SimulatedClock();
  readonly #timers = new Map<unknown, Timer>();

  /** Simulated milliseconds since the clock was created. */
  now(): number {
    return this.#clock.now();
  }

  setTimeout(fn: (...args: any[]) => void, timeoutMs: number): unknown {
    const id = this.#clock.setTimeout(() => {
      this.#timers.delete(id);
      fn();
    }, timeoutMs);
    this.#timers.set(id, { due: this.#clock.now() + timeoutMs, timeoutMs });
    return id;
  }

  clearTimeout(id: unknown): void {
    this.#timers.delete(id);
    this.#clock.clearTimeout(id as number);
  }

  /** Number of timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer due by then. */
  advance(ms: number): void {
    this.#clock.increment(ms);
  }

  /**
   * Moves time to when the earliest pending timer armed with `timeoutMs` is due (any pending
   * timer when none was armed with that duration) and fires what is due by then. Returns
   * `false` when no timer is pending.
   */
  fireNext(timeoutMs?: number): boolean {
    let next: Timer | undefined;
    let fallback: Timer | undefined;
    for (const timer of this.#timers.values()) {
      if (!fallback || timer.due < fallback.due) fallback = timer;
      if (timer.timeoutMs === timeoutMs && (!next || timer.due < next.due)) next = timer;
    }
    const chosen = next ?? fallback;
    if (!chosen) return false;
    this.#clock.set(Math.max(chosen.due, this.#clock.now()));
    return true;
  }
}
