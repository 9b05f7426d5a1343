import {
  CLOSE_SESSION_ENDED,
  type ClientMessage,
  encodeMessage,
  isLiveEvent,
  LIVE_SUBPROTOCOL,
  type LiveEndReason,
  type LiveErrorCode,
  type LiveRefusalCode,
  type LiveEvent,
  parseServerMessage,
  refusalOf,
  type SnapshotMessage,
} from '../live/protocol.js';
import type { LiveClient, LiveState } from './LiveClient.js';

// Re-exported: the package's index takes them from here.
export type { LiveClient, LiveState } from './LiveClient.js';

/**
 * The part of the WebSocket API the client uses: the browser's `WebSocket` and the `ws` package's
 * both fit.
 *
 * @example
 * ```ts
 * import { WebSocket } from 'ws';
 * const createSocket = (url: string, protocols: string[]): LiveSocket =>
 *   new WebSocket(url, protocols, { headers: { cookie, origin } });
 * ```
 */
export interface LiveSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(
    type: 'open' | 'message' | 'close' | 'error',
    listener: (event: any) => void,
  ): void;
}

/**
 * An error the client reports (`onError`) or a `call` rejects with; `code` is stable.
 *
 * @example
 * ```ts
 * live.call({ type: 'cart.get' }).catch((err) => {
 *   if (err instanceof LiveError && err.code === 'NOT_CONNECTED') retryLater();
 * });
 * ```
 */
export class LiveError extends Error {
  override name = 'LiveError' as const;
  /** The protocol's code (see `LiveErrorCode`). */
  readonly code: LiveErrorCode;
  constructor(code: LiveErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Whether `err` is a {@link LiveError} (optionally with the given code). Compares `name`, so it
 * works across bundles.
 *
 * @example
 * ```ts
 * try { await live.call({ type: 'cart.get' }); }
 * catch (err) { if (isLiveError(err, 'CALL_TIMEOUT')) showRetry(); }
 * ```
 */
export function isLiveError(err: unknown, code?: LiveErrorCode): err is LiveError {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown };
  return e.name === 'LiveError' && (code === undefined || e.code === code);
}

/** Reconnection delays: exponential, capped, with jitter. */
export interface LiveBackoff {
  /** Delay before the first reconnection attempt. @default 250 (ms) */
  initialMs?: number;
  /** Largest delay. @default 30_000 (ms) */
  maxMs?: number;
  /** Growth per failed attempt. @default 2 */
  factor?: number;
  /** Share of each delay taken off at random (0: none, 1: "full jitter"). @default 0.5 */
  jitter?: number;
}

/** Options of {@link connectLive}. */
export interface ConnectLiveOptions<TView = unknown> {
  /** Every snapshot; after each (re)connect the first message is the current one. */
  onSnapshot: (snapshot: SnapshotMessage<TView>) => void;
  /** The session ended (or was rotated); no reconnection follows. */
  onEnded?: (reason: LiveEndReason) => void;
  /**
   * Errors that belong to no call: a refused `send`, an unreadable frame, and a refused
   * connection. `UNAUTHORIZED` (no valid session cookie, or its session is not running),
   * `FORBIDDEN` (the page's origin is not allowed) and `NOT_FOUND` (nothing serves the URL) end
   * the client (state `closed`, no reconnection: retrying would not help); `TOO_MANY_VIEWS` (the
   * session has too many tabs open) and `SESSION_ROTATED` (the cookie still held an ID another
   * tab's login just moved; the browser holds the new one by now) are reported and retried with
   * backoff; `SESSION_REPLACED` (the cookie's stored session cannot be restored) is reported, and
   * the client waits for the page's next request (see `onReplaced`, `reconnect()`).
   */
  onError?: (error: LiveError) => void;
  /**
   * The bridge refused the view with `4410 SESSION_REPLACED`: the cookie's stored session cannot
   * be restored (quarantined after a deploy that removed its state, say), and the page's next
   * request gets a fresh session under a new cookie. Make that request here and return its
   * promise: the client reconnects once it settles (after the backoff's delay when it is refused
   * again). Without it (or when it returns no promise) the client waits, state `'replaced'`,
   * until `reconnect()` is called.
   * @default undefined (wait for `reconnect()`)
   * @example
   * ```ts
   * connectLive(url, { onSnapshot, onReplaced: () => fetch('/api/cart', { credentials: 'same-origin' }) });
   * ```
   */
  onReplaced?: () => unknown;
  /** Each time a socket opens (before its first snapshot). */
  onOpen?: () => void;
  /** Each time a socket drops; `retryInMs` is `undefined` when no reconnection follows. */
  onDisconnect?: (info: { code: number; reason: string; retryInMs: number | undefined }) => void;
  /**
   * Makes the socket. In Node, pass the `ws` package's: `(url, protocols) => new WebSocket(url,
   * protocols, { headers: { cookie, origin } })`.
   * @default (url, protocols) => new globalThis.WebSocket(url, protocols)
   */
  createSocket?: (url: string, protocols: string[]) => LiveSocket;
  /** Timeout of `call` when it names none. @default 5_000 (ms) */
  callTimeoutMs?: number;
  /** Reconnection delays. @default { initialMs: 250, maxMs: 30_000, factor: 2, jitter: 0.5 } */
  backoff?: LiveBackoff;
  /** Failed attempts in a row after which the client gives up (state `closed`). @default Infinity */
  maxAttempts?: number;
}

const OPEN = 1;
const REFUSAL_MESSAGES: Readonly<Record<LiveRefusalCode, string>> = {
  UNAUTHORIZED: 'The live view was refused: no valid session (log in or reload the page)',
  FORBIDDEN: "The live view was refused: this page's origin is not in the bridge's `origins`",
  NOT_FOUND: 'The live view was refused: nothing serves live views at this URL',
  TOO_MANY_VIEWS: 'The live view was refused: this session has too many views open; retrying',
  SESSION_ROTATED: 'The session moved to a new ID (a login in another tab); reconnecting',
  SESSION_REPLACED:
    "The cookie's session could not be restored; the page's next request starts a fresh one",
};
// A call's own timer leaves the server time to answer with CALL_TIMEOUT first.
const CALL_GRACE_MS = 1_000;

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: LiveError): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Follows a session process live from the browser (or from Node with `createSocket`): snapshots,
 * casts and calls over the `session-process/live` bridge. After a dropped connection it
 * reconnects with exponential backoff and jitter; after `ended` or `close()` it does not.
 *
 * @example
 * ```ts
 * import { connectLive } from 'session-process/client';
 *
 * const live = connectLive(`wss://${location.host}/live`, {
 *   onSnapshot: ({ view }) => renderCart(view),
 *   onEnded: (reason) => showNotice(`Your session ended (${reason}).`),
 *   onError: (err) => console.warn(err.code, err.message),
 * });
 * addButton.onclick = () => live.send({ type: 'cart.add', sku: 'A1' });
 * const cart = await live.call({ type: 'cart.get' }, { timeoutMs: 2_000 });
 * ```
 */
export function connectLive<TView = unknown>(
  url: string,
  options: ConnectLiveOptions<TView>,
): LiveClient<TView> {
  if (!options.createSocket && typeof globalThis.WebSocket !== 'function') {
    // Node 20 has no global WebSocket: fail at once rather than retry forever.
    throw new TypeError(
      'connectLive: no global WebSocket here; pass `createSocket` (the ws package in Node)',
    );
  }
  const createSocket =
    options.createSocket ??
    ((u: string, protocols: string[]) => new globalThis.WebSocket(u, protocols) as LiveSocket);
  const initialMs = options.backoff?.initialMs ?? 250;
  const maxMs = options.backoff?.maxMs ?? 30_000;
  const factor = options.backoff?.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, options.backoff?.jitter ?? 0.5));
  const maxAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
  const defaultTimeoutMs = options.callTimeoutMs ?? 5_000;

  let state: LiveState = 'connecting';
  let socket: LiveSocket | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  /** close() was called: nothing reconnects any more. */
  let closedByUser = false;
  let nextRef = 0;
  let last: SnapshotMessage<TView> | undefined;
  const calls = new Map<string, PendingCall>();

  const safely = (fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      // A throwing handler must not break the connection's bookkeeping.
      setTimeout(() => {
        throw err;
      });
    }
  };

  function rejectAll(code: LiveErrorCode, message: string): void {
    for (const [ref, call] of calls) {
      calls.delete(ref);
      clearTimeout(call.timer);
      call.reject(new LiveError(code, message));
    }
  }

  function open(): void {
    let s: LiveSocket;
    try {
      s = createSocket(url, [LIVE_SUBPROTOCOL]);
    } catch (err) {
      safely(() => options.onError?.(new LiveError('NOT_CONNECTED', String(err))));
      dropped(1006, 'socket could not be created');
      return;
    }
    socket = s;
    s.addEventListener('open', () => {
      if (socket !== s) return;
      state = 'open';
      safely(() => options.onOpen?.());
    });
    s.addEventListener('message', (event: { data: unknown }) => {
      if (socket !== s) return;
      onMessage(event.data);
    });
    // Browsers fire 'error' with no detail, always followed by 'close': handled there.
    s.addEventListener('error', () => {});
    s.addEventListener('close', (event: { code?: number; reason?: string }) => {
      if (socket !== s) return;
      socket = undefined;
      const code = event.code ?? 1006;
      const reason = event.reason ?? '';
      if (state === 'closed' || state === 'ended') return;
      if (code === CLOSE_SESSION_ENDED) {
        ended((reason || 'terminated') as LiveEndReason);
        safely(() => options.onDisconnect?.({ code, reason, retryInMs: undefined }));
        return;
      }
      const refusal = refusalOf(code);
      if (refusal === 'SESSION_REPLACED') {
        replaced(code, reason);
        return;
      }
      if (refusal !== undefined) {
        const error = new LiveError(refusal, REFUSAL_MESSAGES[refusal]);
        if (refusal !== 'TOO_MANY_VIEWS' && refusal !== 'SESSION_ROTATED') {
          // Retrying cannot help: the page has to act (log in again, reload, fix its config).
          state = 'closed';
          rejectAll(refusal, error.message);
          safely(() => options.onError?.(error));
          safely(() => options.onDisconnect?.({ code, reason, retryInMs: undefined }));
          return;
        }
        safely(() => options.onError?.(error));
      }
      dropped(code, reason);
    });
  }

  function dropped(code: number, reason: string): void {
    rejectAll('CONNECTION_LOST', 'The live connection dropped before the reply arrived');
    failures++;
    if (failures > maxAttempts) {
      state = 'closed';
      safely(() => options.onDisconnect?.({ code, reason, retryInMs: undefined }));
      return;
    }
    const delay = backoffDelay();
    state = 'reconnecting';
    safely(() => options.onDisconnect?.({ code, reason, retryInMs: delay }));
    retry = setTimeout(() => {
      retry = undefined;
      if (state === 'reconnecting') open();
    }, delay);
  }

  /** 4410: wait for the page's next request (onReplaced's promise) or for reconnect(). */
  function replaced(code: number, reason: string): void {
    state = 'replaced';
    failures++;
    const error = new LiveError('SESSION_REPLACED', REFUSAL_MESSAGES.SESSION_REPLACED);
    rejectAll('SESSION_REPLACED', error.message);
    safely(() => options.onError?.(error));
    safely(() => options.onDisconnect?.({ code, reason, retryInMs: undefined }));
    if (failures > maxAttempts) {
      state = 'closed';
      return;
    }
    let request: unknown;
    safely(() => {
      request = options.onReplaced?.();
    });
    if (typeof (request as PromiseLike<unknown> | undefined)?.then !== 'function') return;
    const after = () => {
      if (state !== 'replaced') return; // reconnect() or close() came first
      // A first refusal reconnects at once; one that repeats (the request did not help) backs off.
      const delay = failures > 1 ? backoffDelay() : 0;
      retry = setTimeout(() => {
        retry = undefined;
        if (state === 'replaced') reconnectNow();
      }, delay);
    };
    (request as PromiseLike<unknown>).then(after, after);
  }

  function backoffDelay(): number {
    const base = Math.min(maxMs, initialMs * factor ** (failures - 1));
    return Math.round(base * (1 - jitter * Math.random()));
  }

  function reconnectNow(): void {
    if (retry !== undefined) clearTimeout(retry);
    retry = undefined;
    state = 'connecting';
    open();
  }

  function ended(reason: LiveEndReason): void {
    if (state === 'ended' || state === 'closed') return;
    state = 'ended';
    rejectAll('SESSION_ENDED', `The session ended (${reason})`);
    safely(() => options.onEnded?.(reason));
  }

  function onMessage(data: unknown): void {
    if (typeof data !== 'string') {
      safely(() => options.onError?.(new LiveError('BAD_MESSAGE', 'Unexpected binary frame')));
      return;
    }
    const parsed = parseServerMessage(data);
    if (!parsed.ok) {
      safely(() => options.onError?.(new LiveError('BAD_MESSAGE', parsed.message)));
      return;
    }
    const msg = parsed.message;
    switch (msg.type) {
      case 'snapshot':
        // A snapshot proves the connection is authenticated and working: the backoff restarts.
        failures = 0;
        last = msg as SnapshotMessage<TView>;
        safely(() => options.onSnapshot(msg as SnapshotMessage<TView>));
        return;
      case 'reply': {
        const call = calls.get(msg.ref);
        if (!call) return;
        calls.delete(msg.ref);
        clearTimeout(call.timer);
        call.resolve(msg.value);
        return;
      }
      case 'error': {
        const call = msg.ref === undefined ? undefined : calls.get(msg.ref);
        const error = new LiveError(msg.code, msg.message);
        if (call && msg.ref !== undefined) {
          calls.delete(msg.ref);
          clearTimeout(call.timer);
          call.reject(error);
        } else safely(() => options.onError?.(error));
        return;
      }
      case 'ended':
        ended(msg.reason);
        return;
    }
  }

  function transmit(message: ClientMessage): boolean {
    if (state !== 'open' || !socket || socket.readyState !== OPEN) return false;
    try {
      socket.send(encodeMessage(message));
      return true;
    } catch {
      return false;
    }
  }

  open();

  return {
    send(event) {
      if (!isLiveEvent(event)) throw new TypeError('send(event): event needs a string `type`');
      return transmit({ type: 'send', event });
    },
    call<T = unknown>(event: LiveEvent, callOptions: { timeoutMs?: number } = {}): Promise<T> {
      if (!isLiveEvent(event)) {
        return Promise.reject(new TypeError('call(event): event needs a string `type`'));
      }
      const timeoutMs = callOptions.timeoutMs ?? defaultTimeoutMs;
      const ref = String(++nextRef);
      return new Promise<T>((resolve, reject) => {
        if (!transmit({ type: 'call', ref, event, timeoutMs })) {
          reject(new LiveError('NOT_CONNECTED', 'The live connection is not open'));
          return;
        }
        const timer = setTimeout(() => {
          calls.delete(ref);
          reject(
            new LiveError('CALL_TIMEOUT', `No reply to '${event.type}' within ${timeoutMs} ms`),
          );
        }, timeoutMs + CALL_GRACE_MS);
        calls.set(ref, { resolve: resolve as (v: unknown) => void, reject, timer });
      });
    },
    reconnect() {
      if (closedByUser || state === 'open' || state === 'connecting') return;
      reconnectNow();
    },
    close() {
      closedByUser = true;
      if (state === 'closed') return;
      state = 'closed';
      if (retry !== undefined) clearTimeout(retry);
      rejectAll('CONNECTION_LOST', 'The live connection was closed');
      const s = socket;
      socket = undefined;
      try {
        s?.close(1000, 'client closed');
      } catch {
        // already closing
      }
    },
    get state() {
      return state;
    },
    get snapshot() {
      return last;
    },
  };
}
