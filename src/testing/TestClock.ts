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

  /** The timers still pending: when each is due and the duration it was armed with. */
  pendingTimers(): Array<{ due: number; timeoutMs: number }> {
    return [...this.#timers.values()].map((t) => ({ ...t })).sort((a, b) => a.due - b.due);
  }

  /** Moves time to `time` (never back), firing every timer due by then. */
  advanceTo(time: number): void {
    this.#clock.set(Math.max(time, this.#clock.now()));
  }

  /**
   * Moves time to when the earliest pending timer armed with `timeoutMs` is due (the earliest
   * pending timer when `timeoutMs` is not given) and fires what is due by then. Returns `false`
   * when there is no such timer.
   */
  fireNext(timeoutMs?: number): boolean {
    const timer = this.pendingTimers().find(
      (t) => timeoutMs === undefined || t.timeoutMs === timeoutMs,
    );
    if (!timer) return false;
    this.advanceTo(timer.due);
    return true;
  }
}
