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
 * Exact per-session deadlines with one timer. Every deadline in a queue is `now + the same
 * duration`, so deadlines are ordered like the moments they were set: a touch moves the node to
 * the tail in O(1), and the only timer is for the head. The timer is not re-armed on a touch;
 * when it fires early (its node moved), it re-arms for the new head. No sweep: each session
 * expires at its own deadline, to the millisecond.
 */
export class DeadlineQueue<T> {
  #head: DeadlineNode<T> | undefined;
  #tail: DeadlineNode<T> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #size = 0;
  readonly #onExpire: (value: T) => void;

  constructor(onExpire: (value: T) => void) {
    this.#onExpire = onExpire;
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

  /** Puts the node at the tail with this deadline (moving it if queued). */
  push(node: DeadlineNode<T>, deadline: number): void {
    if (node.queued) {
      node.deadline = deadline;
      if (node === this.#tail) return;
      this.#unlink(node);
    }
    node.deadline = deadline;
    node.prev = this.#tail;
    node.next = undefined;
    if (this.#tail) this.#tail.next = node;
    else this.#head = node;
    this.#tail = node;
    node.queued = true;
    this.#size++;
    if (this.#timer === undefined) this.#arm();
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
    const delay = Math.max(0, this.#head.deadline - Date.now());
    this.#timer = setTimeout(this.#fire, delay);
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire = (): void => {
    this.#timer = undefined;
    const now = Date.now();
    let node = this.#head;
    while (node && node.deadline <= now) {
      this.#unlink(node);
      this.#onExpire(node.value);
      node = this.#head;
    }
    if (this.#timer === undefined) this.#arm();
  };
}
