import type { WebSocket } from 'ws';
import type { EventObject } from 'xstate';
import { isSessionError, type SessionSupervisor } from '../index.js';
import type { EventCheck, EventCheckResult } from './eventChecks.js';
import {
  CLOSE_SESSION_ENDED,
  type CallMessage,
  type ErrorMessage,
  encodeMessage,
  type LiveEndReason,
  type LiveErrorCode,
  parseClientMessage,
  type ServerMessage,
} from './protocol.js';

/** What a connection needs from its bridge. @internal */
export interface ConnectionContext {
  readonly sessions: SessionSupervisor;
  /** A check per allowed event type. */
  readonly checks: ReadonlyMap<string, EventCheck>;
  readonly highWaterMarkBytes: number;
  readonly maxBufferedBytes: number;
  readonly maxPendingCalls: number;
  readonly callTimeoutMs: number | undefined;
  readonly maxCallTimeoutMs: number;
  report(error: unknown, sessionId: string): void;
  /** Called when the connection cuts its peer off (too many bytes waiting). */
  dropped(connection: LiveConnection, reason: 'buffer'): void;
  /** Called once, when the socket has closed. */
  closed(connection: LiveConnection): void;
}

/**
 * One live view: a WebSocket bound to one session ID. Snapshots supersede each other: while the
 * socket's `bufferedAmount` is above the high-water mark only the newest frame is kept, and it is
 * written when an earlier write completes, so a slow reader costs one frame, not a queue.
 * @internal
 */
export class LiveConnection {
  /** Cleared by each heartbeat, set by a pong or any message. */
  alive = true;
  readonly sessionId: string;
  readonly #ws: WebSocket;
  readonly #ctx: ConnectionContext;
  #pending: string | undefined;
  #calls = 0;
  #closed = false;
  #lastVersion = 0;
  /** Snapshots this view skipped because a newer one replaced them while the socket was full. */
  superseded = 0;
  #resolveClosed!: () => void;
  /** Settles when the socket has closed. */
  readonly whenClosed = new Promise<void>((resolve) => {
    this.#resolveClosed = resolve;
  });
  readonly #onWritten = (err?: Error | null): void => {
    if (err || this.#closed) return;
    if (this.#pending !== undefined && this.#ws.bufferedAmount <= this.#ctx.highWaterMarkBytes) {
      const frame = this.#pending;
      this.#pending = undefined;
      this.#write(frame);
    }
  };

  constructor(ws: WebSocket, sessionId: string, ctx: ConnectionContext) {
    this.#ws = ws;
    this.sessionId = sessionId;
    this.#ctx = ctx;
    ws.on('message', (data, isBinary) => {
      this.alive = true;
      try {
        this.#onMessage(data, isBinary);
      } catch (err) {
        ctx.report(err, sessionId);
      }
    });
    ws.on('pong', () => {
      this.alive = true;
    });
    // ws emits 'error' for protocol violations (an oversized frame: 1009, bad UTF-8: 1007) and
    // then closes the socket itself; without a listener the error would be thrown.
    ws.on('error', () => {});
    ws.once('close', () => {
      this.#closed = true;
      this.#pending = undefined;
      this.#resolveClosed();
      ctx.closed(this);
    });
  }

  /** Whether the socket is open and this view has not been ended. */
  get open(): boolean {
    return !this.#closed && this.#ws.readyState === this.#ws.OPEN;
  }

  /** Bytes waiting in the socket (for tests and stats). */
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /** Offers a snapshot frame; older frames still waiting are dropped. */
  offerSnapshot(frame: string, version: number): void {
    if (this.#closed || version <= this.#lastVersion) return;
    this.#lastVersion = version;
    if (this.#ws.bufferedAmount > this.#ctx.highWaterMarkBytes) {
      if (this.#pending !== undefined) this.superseded++;
      this.#pending = frame;
      return;
    }
    this.#pending = undefined;
    this.#write(frame);
  }

  /** Sends an `error` that answers no message (the view function failed, say). */
  notify(code: LiveErrorCode, message: string): void {
    this.#error(code, message);
  }

  /** Sends `ended` and closes with 4001. */
  end(reason: LiveEndReason): void {
    if (this.#closed) return;
    this.#pending = undefined;
    this.#closed = true;
    try {
      this.#ws.send(encodeMessage({ type: 'ended', reason }));
      this.#ws.close(CLOSE_SESSION_ENDED, reason);
    } catch {
      this.#ws.terminate();
    }
  }

  /** Closes with `code` (1001 when the bridge closes). */
  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = undefined;
    try {
      this.#ws.close(code, reason);
    } catch {
      this.#ws.terminate();
    }
  }

  /** Drops the connection without a closing handshake (a dead peer). */
  /**
   * Pings every connection each `everyMs`; one that has not answered since the last ping is
   * dropped (`onDead`) and cut off. The timer lets the process exit.
   */
  static heartbeat(
    connections: Iterable<LiveConnection>,
    everyMs: number,
    onDead: (connection: LiveConnection) => void,
  ): NodeJS.Timeout {
    const timer = setInterval(() => {
      for (const connection of connections) {
        if (!connection.alive) {
          onDead(connection);
          connection.terminate();
        } else connection.ping();
      }
    }, everyMs);
    timer.unref();
    return timer;
  }

  /** Resolves once closed; a peer that never completes the closing handshake is cut off after a second. */
  closed(): Promise<void> {
    const cut = setTimeout(() => this.terminate(), 1_000);
    return this.whenClosed.then(() => clearTimeout(cut));
  }

  terminate(): void {
    this.#closed = true;
    this.#pending = undefined;
    this.#ws.terminate();
  }

  /** Pings the peer; the heartbeat ends it if no pong (or message) arrives before the next tick. */
  ping(): void {
    if (this.#closed) return;
    this.alive = false;
    try {
      this.#ws.ping();
    } catch {
      // the socket is closing; 'close' cleans up
    }
  }

  #write(frame: string): void {
    try {
      this.#ws.send(frame, this.#onWritten);
    } catch {
      // the socket is closing; 'close' cleans up
    }
  }

  /** Sends a reply or an error, after the snapshot it may refer to. */
  #sendControl(message: ServerMessage): void {
    this.#sendFrame(encodeMessage(message));
  }

  #sendFrame(frame: string): void {
    if (this.#closed) return;
    // A client that keeps sending while it does not read would make its answers pile up here:
    // past the hard cap it is cut off.
    if (this.#ws.bufferedAmount > this.#ctx.maxBufferedBytes) {
      this.#ctx.dropped(this, 'buffer');
      this.terminate();
      return;
    }
    if (this.#pending !== undefined) {
      const pending = this.#pending;
      this.#pending = undefined;
      this.#write(pending);
    }
    this.#write(frame);
  }

  #error(code: LiveErrorCode, message: string, ref?: string): void {
    const error: ErrorMessage = { type: 'error', code, message };
    if (ref !== undefined) error.ref = ref;
    this.#sendControl(error);
  }

  #onMessage(data: unknown, isBinary: boolean): void {
    if (this.#closed) return;
    if (isBinary) {
      this.#error('BAD_MESSAGE', 'Binary frames are not accepted: send JSON text');
      return;
    }
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
    const parsed = parseClientMessage(text);
    if (!parsed.ok) {
      this.#error(parsed.code, parsed.message, parsed.ref);
      return;
    }
    const msg = parsed.message;
    const ref = msg.type === 'call' ? msg.ref : undefined;
    const check = this.#ctx.checks.get(msg.event.type);
    if (check === undefined) {
      this.#error(
        'EVENT_NOT_ALLOWED',
        `Event type '${msg.event.type}' is not accepted from live views`,
        ref,
      );
      return;
    }
    let checked: EventCheckResult;
    try {
      checked = check(msg.event);
    } catch (err) {
      this.#ctx.report(err, this.sessionId);
      this.#error('INTERNAL_ERROR', 'The server failed to check the event', ref);
      return;
    }
    if (!checked.ok) {
      this.#error('INVALID_EVENT', checked.message, ref);
      return;
    }
    // What the check let through (a schema's output): call correlation cannot be forged from an
    // event's payload (the core keeps it apart from the event), so no per-entry guard is needed.
    const event: EventObject = checked.event;
    if (msg.type === 'send') {
      try {
        this.#ctx.sessions.cast(this.sessionId, event);
      } catch (err) {
        const [code, message] = this.#describe(err);
        this.#error(code, message);
      }
      return;
    }
    void this.#call(msg, event);
  }

  async #call(msg: CallMessage, event: EventObject): Promise<void> {
    if (this.#calls >= this.#ctx.maxPendingCalls) {
      this.#error(
        'TOO_MANY_CALLS',
        `At most ${this.#ctx.maxPendingCalls} calls may wait at once`,
        msg.ref,
      );
      return;
    }
    this.#calls++;
    try {
      const requested = msg.timeoutMs ?? this.#ctx.callTimeoutMs;
      const timeoutMs =
        requested === undefined ? undefined : Math.min(requested, this.#ctx.maxCallTimeoutMs);
      const value = await this.#ctx.sessions.call(
        this.sessionId,
        event,
        timeoutMs === undefined ? {} : { timeoutMs },
      );
      let frame: string;
      try {
        frame = encodeMessage({ type: 'reply', ref: msg.ref, value: value ?? null });
      } catch (err) {
        this.#ctx.report(err, this.sessionId);
        this.#error('INTERNAL_ERROR', 'The reply is not JSON-serializable', msg.ref);
        return;
      }
      if (this.#closed) return;
      this.#sendFrame(frame);
    } catch (err) {
      const [code, message] = this.#describe(err);
      this.#error(code, message, msg.ref);
    } finally {
      this.#calls--;
    }
  }

  #describe(err: unknown): [LiveErrorCode, string] {
    if (isSessionError(err)) {
      return [err.code, err.expose ? err.message : 'The session failed to handle the event'];
    }
    this.#ctx.report(err, this.sessionId);
    return ['INTERNAL_ERROR', 'The server failed to handle the message'];
  }
}
