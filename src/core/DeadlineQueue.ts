import { MAX_TIMEOUT_MS } from './maxTimeout.js';

/** @internal A node of a {@link DeadlineQueue}; a session owns one per queue and reuses it. */
export interface DeadlineNode<T> {
  readonly value: T;
  deadline: number;
  prev: DeadlineNode<T> | undefined;
  next: DeadlineNode<T> | undefined;
  queued: boolean;
}

/**
 * @internal
 * Exact per-session deadlines with one timer. Almost every deadline in a queue is `now + the
 * same duration`, so deadlines are ordered like the moments they were set: a touch moves the
 * node to the tail in O(1), and the only timer is for the head. The timer is not re-armed on a touch;
 * when it fires early (its node moved), it re-arms for the new head. No sweep: each session
 * expires at its own deadline, to the millisecond.
 */
export class DeadlineQueue<T> {
  #head: DeadlineNode<T> | undefined;
  #tail: DeadlineNode<T> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The deadline the timer was armed for. */
  #armedFor = 0;
  #size = 0;
  readonly #onExpire: (value: T) => void;
  readonly #unref: boolean;

  /**
   * @param onExpire called with each node's value when its deadline passes
   * @param unref whether the timer lets the process exit (idle expiry: yes; a waiting call: no)
   */
  constructor(onExpire: (value: T) => void, unref = true) {
    this.#onExpire = onExpire;
    this.#unref = unref;
  }

  get size(): number {
    return this.#size;
  }

  /** Whether a timer is armed (for leak checks). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** The earliest deadline, or `undefined`. */
  get headDeadline(): number | undefined {
    return this.#head?.deadline;
  }

  static node<T>(value: T): DeadlineNode<T> {
    return { value, deadline: 0, prev: undefined, next: undefined, queued: false };
  }

  /**
   * Puts the node in deadline order (moving it if queued). A deadline at or after the tail's,
   * the common case, is O(1); an earlier one (a session restored with a deadline set long ago)
   * walks back from the tail.
   */
  push(node: DeadlineNode<T>, deadline: number): void {
    if (node.queued) {
      if (node === this.#tail && deadline >= node.deadline) {
        node.deadline = deadline;
        return;
      }
      this.#unlink(node);
    }
    node.deadline = deadline;
    let after = this.#tail;
    while (after && after.deadline > deadline) after = after.prev;
    node.prev = after;
    node.next = after ? after.next : this.#head;
    if (node.next) node.next.prev = node;
    else this.#tail = node;
    if (after) after.next = node;
    else this.#head = node;
    node.queued = true;
    this.#size++;
    if (this.#timer === undefined) this.#arm();
    else if (node === this.#head && this.#armedFor > deadline) {
      this.#disarm();
      this.#arm();
    }
  }

  remove(node: DeadlineNode<T>): void {
    if (!node.queued) return;
    this.#unlink(node);
    if (this.#size === 0) this.#disarm();
  }

  clear(): void {
    let node = this.#head;
    while (node) {
      const next = node.next;
      node.queued = false;
      node.prev = node.next = undefined;
      node = next;
    }
    this.#head = this.#tail = undefined;
    this.#size = 0;
    this.#disarm();
  }

  #unlink(node: DeadlineNode<T>): void {
    if (node.prev) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.#tail = node.prev;
    node.prev = node.next = undefined;
    node.queued = false;
    this.#size--;
  }

  #arm(): void {
    if (!this.#head) return;
    this.#armedFor = this.#head.deadline;
    // A deadline past 24.8 days is reached in steps: #fire re-arms while the head is not due.
    const delay = Math.min(MAX_TIMEOUT_MS, Math.max(0, this.#head.deadline - Date.now()));
    this.#timer = setTimeout(this.#fire, delay);
    if (this.#unref) this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire = (): void => {
    this.#timer = undefined;
    const now = Date.now();
    let node = this.#head;
    let budget = DeadlineQueue.batch;
    while (node && node.deadline <= now) {
      if (budget-- === 0) {
        // An expiry storm (20,000 sessions due at once) is handled a slice per turn of the event
        // loop, so requests of other sessions are answered between slices.
        this.#disarm();
        this.#armedFor = node.deadline;
        this.#timer = setTimeout(this.#fire, 0);
        if (this.#unref) this.#timer.unref();
        return;
      }
      this.#unlink(node);
      this.#onExpire(node.value);
      node = this.#head;
    }
    if (this.#timer === undefined) this.#arm();
  };

  /** How many deadlines one turn of the event loop handles at most. */
  static batch = 256;
}
