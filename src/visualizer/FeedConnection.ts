import type { WebSocket } from 'ws';
import type { AnyActorRef } from 'xstate';
import type { SessionPage, SessionSnapshot, SessionSupervisor } from '../index.js';
import type { FeedHub, FeedWatcher } from './FeedHub.js';
import type { ClientMessage, EventEntry, ServerMessage } from './protocol.js';
import { type Sanitize, toJsonSafe } from './sanitize.js';

/** @internal */
export interface FeedConnectionOptions {
  sessions: SessionSupervisor;
  hub: FeedHub;
  sanitize: Sanitize;
  allowSend: boolean;
  throttleMs: number;
  /** Most rows a page may ask for. */
  maxPageSize: number;
  /** Entries of the event log kept unsent at most (older ones are dropped, the count kept). */
  maxPendingEvents: number;
  /** Above this many buffered bytes, updates and answers wait for the browser to catch up. */
  highWaterMarkBytes: number;
  /** Above this many buffered bytes, the browser is dropped (a slow reader). */
  maxBufferedBytes: number;
  /** More requests than this arriving while the browser is behind, and it is dropped. */
  maxUnansweredRequests: number;
  /** Told once when the browser is dropped for not reading. */
  onDrop: (facts: { bufferedBytes: number; unansweredRequests: number }) => void;
}

/**
 * @internal
 * One browser's feed: the sessions page it looks at and the session it has selected. Changes are
 * collected as they happen and sent at most once per `throttleMs` (the hub's tick), each message
 * only when its content differs from the last one sent, so 10,000 busy sessions cost the browser
 * one small list message per tick at most.
 *
 * A browser that stops reading is not queued for: above `highWaterMarkBytes` waiting to be sent,
 * updates and answers wait (a list asked for twenty times is sent once, when it catches up), and
 * one that still asks for more (`maxUnansweredRequests`) or lets `maxBufferedBytes` pile up is
 * closed with code 4008, so a page that never reads holds a bounded amount of server memory.
 */
export class FeedConnection implements FeedWatcher {
  readonly #ws: WebSocket;
  readonly #o: FeedConnectionOptions;
  #offset = 0;
  #limit = 50;
  #listWanted = false;
  #lastList = '';
  #selected: string | null = null;
  #actor: AnyActorRef | undefined;
  #seq = 0;
  #events: EventEntry[] = [];
  #snapshotDirty = false;
  #lastSnapshot = '';
  #ended: string | undefined;
  #machineWanted = false;
  #unanswered = 0;
  #dropped = false;
  /** A list being gathered from every node (one at a time). */
  #listing = false;
  /** Following a session that runs on another node of a cluster: its subscription. */
  #remoteOff: (() => void) | undefined;
  /** That session's latest snapshot. */
  #remoteSnapshot: SessionSnapshot | undefined;
  /** Bumped by every selection: an answer for an earlier one is dropped. */
  #selection = 0;

  constructor(ws: WebSocket, options: FeedConnectionOptions) {
    this.#ws = ws;
    this.#o = options;
    ws.on('message', (data, isBinary) => this.#onMessage(data.toString(), isBinary));
    ws.on('close', () => {
      options.hub.remove(this);
      this.#unfollowRemote();
    });
    options.hub.add(this);
    this.#send({ type: 'hello', allowSend: options.allowSend, throttleMs: options.throttleMs });
  }

  // ---- from the hub ---------------------------------------------------------------------------

  listChanged(): void {
    this.#listWanted = true;
  }

  event(entry: Omit<EventEntry, 'seq'>): void {
    if (this.#selected === null) return;
    const e = { ...entry, seq: ++this.#seq };
    e.event = this.#clean(e.event, 'event') as EventEntry['event'];
    this.#events.push(e);
    if (this.#events.length > this.#o.maxPendingEvents) this.#events.shift();
  }

  snapshotChanged(): void {
    this.#snapshotDirty = true;
  }

  ended(sessionId: string, reason: string): void {
    if (sessionId === this.#selected) this.#ended = reason;
  }

  flush(): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    // A browser that does not keep up gets the latest state later, not an ever-growing queue.
    if (this.#congested()) return;
    this.#unanswered = 0;
    if (this.#listWanted) this.#sendList();
    let id = this.#selected;
    if (id === null) return;
    if (this.#machineWanted) this.#sendMachine(id);
    // The core renames the actor in place when a session's ID is rotated (a login, say).
    const current = this.#actor?.id;
    if (current !== undefined && current !== id && this.#ended === undefined) {
      this.#send({ type: 'renamed', id, to: current });
      this.#selected = id = current;
    }
    if (this.#events.length) {
      this.#send({ type: 'events', id, entries: this.#events });
      this.#events = [];
    }
    if (this.#snapshotDirty) this.#sendSnapshot(id);
    if (this.#ended !== undefined) {
      this.#send({ type: 'ended', id, reason: this.#ended });
      this.#o.hub.unwatch(this);
      this.#unfollowRemote();
      this.#ended = undefined;
    }
  }

  // ---- from the browser -----------------------------------------------------------------------

  #onMessage(text: string, isBinary: boolean): void {
    let msg: ClientMessage;
    try {
      if (isBinary) throw new Error('binary');
      msg = JSON.parse(text);
      if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') throw new Error('type');
    } catch {
      if (this.#countRequest()) this.#error('BAD_MESSAGE', 'expected a JSON object with a "type"');
      return;
    }
    if (!this.#countRequest()) return;
    switch (msg.type) {
      case 'list':
        this.#offset = clampInt(msg.offset, 0, Number.MAX_SAFE_INTEGER, 0);
        this.#limit = clampInt(msg.limit, 1, this.#o.maxPageSize, 50);
        this.#lastList = '';
        // Behind: the newest page asked for is sent once the browser catches up (flush).
        if (this.#congested()) this.#listWanted = true;
        else this.#sendList();
        return;
      case 'select':
        this.#select(typeof msg.id === 'string' ? msg.id : null);
        return;
      case 'send':
        this.#cast(msg);
        return;
      default:
        this.#error(
          'BAD_MESSAGE',
          `unknown message type ${JSON.stringify(String((msg as { type: unknown }).type))}`,
        );
    }
  }

  #select(id: string | null): void {
    const selection = ++this.#selection;
    this.#selected = null;
    this.#events = [];
    this.#snapshotDirty = false;
    this.#lastSnapshot = '';
    this.#ended = undefined;
    this.#machineWanted = false;
    this.#o.hub.unwatch(this);
    this.#unfollowRemote();
    this.#actor = undefined;
    if (id === null) return;
    this.#actor = this.#o.hub.watch(this, id);
    if (!this.#actor) {
      void this.#selectRemote(id, selection);
      return;
    }
    this.#selected = id;
    this.#selectedNow(id);
  }

  /**
   * A session not running in this process may run on another node of a cluster: it is followed
   * through a subscription (its snapshots and its end; its events are seen only on its node).
   */
  async #selectRemote(id: string, selection: number): Promise<void> {
    const sessions = this.#o.sessions;
    let running = false;
    try {
      running = (await sessions.status(id)) === 'running';
    } catch {
      running = false;
    }
    if (selection !== this.#selection || this.#ws.readyState !== this.#ws.OPEN) return;
    // It may have come to this process meanwhile.
    this.#actor = this.#o.hub.watch(this, id);
    if (this.#actor) {
      this.#selected = id;
      this.#selectedNow(id);
      return;
    }
    if (running) {
      try {
        this.#remoteOff = sessions.subscribe(id, (msg) => {
          if (msg.type === 'snapshot') {
            this.#remoteSnapshot = msg.snapshot;
            this.snapshotChanged();
          } else this.ended(id, msg.reason);
        });
      } catch {
        running = false;
      }
    }
    if (!running) {
      this.#error('SESSION_NOT_FOUND', 'no running session has this ID', id);
      return;
    }
    this.#selected = id;
    this.#selectedNow(id);
  }

  #unfollowRemote(): void {
    const off = this.#remoteOff;
    this.#remoteOff = undefined;
    this.#remoteSnapshot = undefined;
    off?.();
  }

  #selectedNow(id: string): void {
    if (this.#congested()) {
      this.#machineWanted = this.#snapshotDirty = true;
      return;
    }
    this.#sendMachine(id);
    this.#sendSnapshot(id);
  }

  #sendMachine(id: string): void {
    this.#machineWanted = false;
    const machine = this.#o.hub.machineOf(id);
    const logic = this.#o.sessions.get(id)?.logic ?? '';
    this.#send({ type: 'machine', id, logic, machine });
  }

  #cast(msg: Extract<ClientMessage, { type: 'send' }>): void {
    const id = typeof msg.id === 'string' ? msg.id : '';
    if (!this.#o.allowSend) {
      this.#error(
        'SEND_NOT_ALLOWED',
        'sending events is disabled (visualizer option allowSend)',
        id,
      );
      return;
    }
    const event = msg.event;
    if (
      !event ||
      typeof event !== 'object' ||
      Array.isArray(event) ||
      typeof event.type !== 'string' ||
      !event.type
    ) {
      this.#error('BAD_MESSAGE', 'an event is an object with a string "type"', id);
      return;
    }
    try {
      this.#o.sessions.cast(id, event);
      this.#send({ type: 'sent', id, eventType: event.type });
    } catch (err) {
      const code =
        (err as { code?: unknown }).code === 'SESSION_NOT_FOUND'
          ? 'SESSION_NOT_FOUND'
          : 'SEND_FAILED';
      this.#error(code, (err as Error).message ?? String(err), id);
    }
  }

  // ---- to the browser -------------------------------------------------------------------------

  #sendList(): void {
    this.#listWanted = false;
    if (this.#listing) {
      this.#listWanted = true; // asked again while a list is being gathered: once it is in
      return;
    }
    this.#listing = true;
    const offset = this.#offset;
    const limit = this.#limit;
    // Every node's sessions (in one process, the list at once).
    this.#o.sessions.listAll({ offset, limit }).then(
      (page) => {
        this.#listing = false;
        if (offset === this.#offset && limit === this.#limit) this.#sendPage(page);
        else this.#listWanted = true;
      },
      () => {
        this.#listing = false;
      },
    );
  }

  #sendPage(page: SessionPage): void {
    const rows = page.rows.map((r) => ({
      id: r.id,
      logic: r.logic,
      startedAt: r.startedAt,
      lastActiveAt: r.lastActiveAt,
      value: toJsonSafe(r.value),
      status: r.status,
      version: r.version,
    }));
    const msg: ServerMessage = {
      type: 'list',
      offset: this.#offset,
      limit: this.#limit,
      total: page.total,
      rows,
    };
    const text = JSON.stringify(msg);
    if (text === this.#lastList) return;
    this.#lastList = text;
    this.#sendText(text);
  }

  #sendSnapshot(id: string): void {
    this.#snapshotDirty = false;
    let snap = this.#remoteSnapshot;
    if (snap === undefined) {
      const handle = this.#o.sessions.get(id);
      if (!handle) return;
      snap = handle.snapshot();
    }
    const msg: ServerMessage = {
      type: 'snapshot',
      id,
      // State values are the machine's own names: they never pass through `sanitize`.
      value: toJsonSafe(snap.value),
      context: this.#clean(snap.context, 'context', id),
      status: snap.status,
      version: snap.version,
    };
    const text = JSON.stringify(msg);
    if (text === this.#lastSnapshot) return;
    this.#lastSnapshot = text;
    this.#sendText(text);
  }

  #clean(value: unknown, kind: 'context' | 'event', sessionId = this.#selected ?? ''): unknown {
    try {
      return toJsonSafe(this.#o.sanitize(value, { kind, sessionId }));
    } catch {
      // A sanitize hook that throws must not leak the raw value: nothing is sent instead.
      return '[sanitize failed]';
    }
  }

  #error(code: string, message: string, id?: string): void {
    this.#send(
      id === undefined ? { type: 'error', code, message } : { type: 'error', code, message, id },
    );
  }

  #send(msg: ServerMessage): void {
    this.#sendText(JSON.stringify(msg));
  }

  #sendText(text: string): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    this.#ws.send(text);
    if (this.#ws.bufferedAmount > this.#o.maxBufferedBytes) this.#drop();
  }

  #congested(): boolean {
    return this.#ws.bufferedAmount > this.#o.highWaterMarkBytes;
  }

  /**
   * Counts a request that arrives while the browser is behind; false (and the browser dropped)
   * when it has left too many unanswered: it asks for more than it reads.
   */
  #countRequest(): boolean {
    if (this.#dropped) return false;
    if (!this.#congested()) return true;
    if (++this.#unanswered <= this.#o.maxUnansweredRequests) return true;
    this.#drop();
    return false;
  }

  #drop(): void {
    if (this.#dropped) return;
    this.#dropped = true;
    const ws = this.#ws;
    this.#o.onDrop({ bufferedBytes: ws.bufferedAmount, unansweredRequests: this.#unanswered });
    this.#o.hub.remove(this);
    // The close frame queues behind what the browser has not read: if it catches up within a
    // second it learns why (4008); otherwise the socket, and what is queued on it, is freed.
    ws.close(4008, 'slow reader');
    setTimeout(() => ws.terminate(), 1_000).unref();
  }
}

function clampInt(v: unknown, min: number, max: number, fallback: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) return fallback;
  return Math.min(max, Math.max(min, Math.floor(v)));
}
