interface Timer {
  due: number;
  timeoutMs: number;
  /** Arming order: timers due at the same time fire in it. */
  seq: number;
  fn: () => void;
}

/**
 * An XState clock for model-based tests: simulated time (as XState's `SimulatedClock`) that
 * moves only when told, with the timers still pending readable, so the runner can move time to
 * exactly when a given delayed event is due and fire that one alone. Timers due at the same
 * time fire in the order they were armed (XState arms a state's `after` timers in document
 * order, entering states from the root down).
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
  #now = 0;
  #seq = 0;
  #nextId = 1;
  readonly #timers = new Map<number, Timer>();

  /** Simulated milliseconds since the clock was created. */
  now(): number {
    return this.#now;
  }

  setTimeout(fn: (...args: any[]) => void, timeoutMs: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { due: this.#now + timeoutMs, timeoutMs, seq: this.#seq++, fn });
    return id;
  }

  clearTimeout(id: unknown): void {
    this.#timers.delete(id as number);
  }

  /** Number of timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer due by then. */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  /** The timers still pending, the next to fire first: when each is due and its duration. */
  pendingTimers(): Array<{ due: number; timeoutMs: number }> {
    return this.#sorted().map(([, t]) => ({ due: t.due, timeoutMs: t.timeoutMs }));
  }

  /** Moves time to `time` (never back), firing every timer due by then, in order. */
  advanceTo(time: number): void {
    while (this.#fireFirstDueBy(time)) {}
    this.#now = Math.max(this.#now, time);
  }

  /**
   * Moves time to `time` (never back) and fires the first timer due by then, and only that one
   * (the next, due at the same time, waits for another call). Returns `false` when none is due.
   */
  fireOne(time: number): boolean {
    this.#now = Math.max(this.#now, time);
    return this.#fireFirstDueBy(this.#now);
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

  #sorted(): Array<[number, Timer]> {
    if (this.#timers.size === 0) return [];
    return [...this.#timers].sort(([, a], [, b]) => a.due - b.due || a.seq - b.seq);
  }

  #fireFirstDueBy(time: number): boolean {
    let first: [number, Timer] | undefined;
    for (const entry of this.#timers) {
      const t = entry[1];
      if (t.due > time) continue;
      if (!first || t.due < first[1].due || (t.due === first[1].due && t.seq < first[1].seq))
        first = entry;
    }
    if (!first) return false;
    const [id, timer] = first;
    this.#timers.delete(id);
    this.#now = Math.max(this.#now, timer.due);
    timer.fn();
    return true;
  }
}
