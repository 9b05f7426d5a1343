// Type-only: erased from the browser bundle, so the client stays free of the core at run time.
import type { SessionErrorCode } from '../index.js';
/**
 * The live-view wire protocol, shared by the server bridge (`session-process/live`) and the
 * browser client (`session-process/client`). Plain TypeScript, no Node imports: the client bundles
 * this file.
 *
 * Every frame is one UTF-8 text frame holding one JSON object with a `type`. The version is
 * negotiated with the WebSocket subprotocol {@link LIVE_SUBPROTOCOL}; a client that offers no
 * subprotocol speaks version 1.
 *
 * @module
 */

/**
 * Version of the wire protocol described here.
 *
 * @example
 * ```ts
 * console.log(`live protocol v${LIVE_PROTOCOL_VERSION}`); // 'live protocol v1'
 * ```
 */
export const LIVE_PROTOCOL_VERSION = 1;

/**
 * The WebSocket subprotocol naming this protocol's version. A client offers it; the server
 * selects it. A future version gets a new name, so an old client and a new server fail at the
 * handshake instead of misreading each other.
 *
 * @example
 * ```ts
 * const socket = new WebSocket(url, [LIVE_SUBPROTOCOL]); // what connectLive does
 * ```
 */
export const LIVE_SUBPROTOCOL = 'session-process.v1';

/**
 * Close code sent after an `ended` message: the session is over, do not reconnect.
 *
 * @example
 * ```ts
 * socket.addEventListener('close', (e) => { if (e.code === CLOSE_SESSION_ENDED) showEnded(e.reason); });
 * ```
 */
export const CLOSE_SESSION_ENDED = 4001;

/**
 * Close codes with which the bridge refuses a client that offered {@link LIVE_SUBPROTOCOL}: it
 * accepts the handshake and closes at once with one of these, because a browser's WebSocket
 * cannot read the HTTP status of a refused upgrade (it sees 1006 whatever the reason). The close
 * reason is the code's name. A client that offered no subprotocol gets the HTTP status instead.
 *
 * | code | name | HTTP | the client |
 * | --- | --- | --- | --- |
 * | 4401 | `UNAUTHORIZED` | 401 | stops: no valid session cookie, or its session is not running |
 * | 4403 | `FORBIDDEN` | 403 | stops: the page's `Origin` is not in the bridge's `origins` |
 * | 4404 | `NOT_FOUND` | 404 | stops: no handler serves this path |
 * | 4409 | `SESSION_ROTATED` | 409 | retries with backoff: the ID moved (a login in another tab) |
 * | 4410 | `SESSION_REPLACED` | 410 | waits: the stored session cannot be restored; the page's next request gets a fresh one, then `reconnect()` (or `onReplaced`) |
 * | 4429 | `TOO_MANY_VIEWS` | 429 | retries with backoff: the session has `maxViewsPerSession` views, or its client `maxViewsPerClient` |
 *
 * @example
 * ```ts
 * socket.addEventListener('close', (e) => {
 *   if (e.code === REFUSAL_CLOSE_CODES.UNAUTHORIZED) location.assign('/login');
 * });
 * ```
 */
export const REFUSAL_CLOSE_CODES = {
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
  NOT_FOUND: 4404,
  TOO_MANY_VIEWS: 4429,
  SESSION_ROTATED: 4409,
  SESSION_REPLACED: 4410,
} as const;

/** Why the bridge refused a view, as the client learns it (see {@link REFUSAL_CLOSE_CODES}). */
export type LiveRefusalCode = keyof typeof REFUSAL_CLOSE_CODES;

/**
 * The refusal a close code stands for, or `undefined` when it is not one.
 *
 * @example
 * ```ts
 * refusalOf(4401); // 'UNAUTHORIZED'
 * refusalOf(1006); // undefined
 * ```
 */
export function refusalOf(closeCode: number): LiveRefusalCode | undefined {
  for (const name of Object.keys(REFUSAL_CLOSE_CODES) as LiveRefusalCode[]) {
    if (REFUSAL_CLOSE_CODES[name] === closeCode) return name;
  }
  return undefined;
}

/** Why a session's live views were ended: the core's end reasons, plus `rotated` (new session ID). */
export type LiveEndReason = 'terminated' | 'expired' | 'crashed' | 'shutdown' | 'rotated';

/** The error codes of the session-process core (`SessionErrorCode`), passed through as they are. */
export type LiveSessionErrorCode = SessionErrorCode;

/**
 * Codes of `error` messages. The protocol's own codes:
 * - `BAD_MESSAGE`: the frame is not JSON, not an object, or not a valid `send` / `call`.
 * - `EVENT_NOT_ALLOWED`: the event type is not in the bridge's `events` list.
 * - `INVALID_EVENT`: the event's payload failed the check (a schema) the bridge's `events` gives
 *   its type; the message names the first problem (`qty: Too big: expected number to be <=99`).
 *   The event never reached the session.
 * - `TOO_MANY_CALLS`: the connection already has `maxPendingCalls` calls waiting.
 * - `INTERNAL_ERROR`: the server failed in a way it does not expose (details stay in its log).
 * - a {@link LiveRefusalCode}: the upgrade was refused (client side only: a close code, never a
 *   message).
 *
 * and every core code ({@link LiveSessionErrorCode}), for a `send` or `call` the session refused.
 * On the client, `call` may also reject with `NOT_CONNECTED`, `CONNECTION_LOST` or `CALL_TIMEOUT`
 * (its own timer), which never travel on the wire.
 */
export type LiveErrorCode =
  | 'BAD_MESSAGE'
  | 'EVENT_NOT_ALLOWED'
  | 'INVALID_EVENT'
  | 'TOO_MANY_CALLS'
  | 'INTERNAL_ERROR'
  | 'NOT_CONNECTED'
  | 'CONNECTION_LOST'
  | LiveRefusalCode
  | LiveSessionErrorCode;

/** An event as it travels: a JSON object with a non-empty string `type`. */
export interface LiveEvent {
  type: string;
  [key: string]: unknown;
}

/** Server → client: the session's current state. The first message after every connect. */
export interface SnapshotMessage<TView = unknown> {
  type: 'snapshot';
  /** The session's snapshot version: increases with every change. Never goes back on one connection. */
  version: number;
  /** The machine's state value. */
  value: unknown;
  /** What the bridge's `view(snapshot)` let through (`null` by default). */
  view: TView;
}

/** Server → client: the answer to a `call`. */
export interface ReplyMessage {
  type: 'reply';
  ref: string;
  value: unknown;
}

/** Server → client: a refused message or a failed `call` (then with its `ref`). */
export interface ErrorMessage {
  type: 'error';
  code: LiveErrorCode;
  message: string;
  ref?: string;
}

/** Server → client: the session is over; the server closes with {@link CLOSE_SESSION_ENDED} next. */
export interface EndedMessage {
  type: 'ended';
  reason: LiveEndReason;
}

/** Every message the server sends. */
export type ServerMessage<TView = unknown> =
  | SnapshotMessage<TView>
  | ReplyMessage
  | ErrorMessage
  | EndedMessage;

/** Client → server: a cast (no answer unless it is refused). */
export interface SendMessage {
  type: 'send';
  event: LiveEvent;
}

/** Client → server: a call, answered by a `reply` or an `error` with the same `ref`. */
export interface CallMessage {
  type: 'call';
  /** Chosen by the client: 1–64 characters. */
  ref: string;
  event: LiveEvent;
  /** Milliseconds the server waits for the reply (capped by the server). */
  timeoutMs?: number;
}

/** Every message a client sends. */
export type ClientMessage = SendMessage | CallMessage;

/** The result of a parse: the message, or why it was refused. */
export type ParseResult<T> =
  | { ok: true; message: T }
  | { ok: false; code: 'BAD_MESSAGE'; message: string; ref?: string };

/**
 * Longest accepted `ref` of a call.
 *
 * @example
 * ```ts
 * const ref = crypto.randomUUID(); // 36 characters: fits
 * console.assert(ref.length <= MAX_REF_LENGTH);
 * ```
 */
export const MAX_REF_LENGTH = 64;

/**
 * Longest accepted event `type`.
 *
 * @example
 * ```ts
 * console.assert('cart.add'.length <= MAX_EVENT_TYPE_LENGTH);
 * ```
 */
export const MAX_EVENT_TYPE_LENGTH = 128;

const END_REASONS: ReadonlySet<string> = new Set<LiveEndReason>([
  'terminated',
  'expired',
  'crashed',
  'shutdown',
  'rotated',
]);

/**
 * Whether `value` can travel as an event: a plain object with a non-empty string `type`.
 *
 * @example
 * ```ts
 * isLiveEvent({ type: 'cart.add', sku: 'A1' }); // true
 * isLiveEvent({ sku: 'A1' });                   // false
 * ```
 */
export function isLiveEvent(value: unknown): value is LiveEvent {
  if (!isPlainObject(value)) return false;
  const type = value.type;
  return typeof type === 'string' && type.length > 0 && type.length <= MAX_EVENT_TYPE_LENGTH;
}

/**
 * Parses and validates one frame a client sent. Never throws.
 *
 * @example
 * ```ts
 * const parsed = parseClientMessage('{"type":"send","event":{"type":"cart.clear"}}');
 * if (parsed.ok) console.log(parsed.message.event.type); // 'cart.clear'
 * else console.log(parsed.code, parsed.message);         // 'BAD_MESSAGE', why
 * ```
 */
export function parseClientMessage(data: string): ParseResult<ClientMessage> {
  const json = parseJson(data);
  if (!json.ok) return json;
  const msg = json.value;
  if (!isPlainObject(msg)) return bad('A message must be a JSON object');
  const ref = msg.ref;
  const refOk = typeof ref === 'string' && ref.length > 0 && ref.length <= MAX_REF_LENGTH;
  // Answer a broken call with its ref when the ref itself is usable, so the caller's promise settles.
  const withRef = (m: string): ParseResult<ClientMessage> =>
    refOk ? { ok: false, code: 'BAD_MESSAGE', message: m, ref } : bad(m);
  switch (msg.type) {
    case 'send':
      if (!isLiveEvent(msg.event)) return bad(eventProblem(msg.event));
      return { ok: true, message: { type: 'send', event: msg.event } };
    case 'call': {
      if (!refOk) return bad(`A call needs a string ref of 1-${MAX_REF_LENGTH} characters`);
      if (!isLiveEvent(msg.event)) return withRef(eventProblem(msg.event));
      const t = msg.timeoutMs;
      if (t !== undefined && !(typeof t === 'number' && Number.isFinite(t) && t > 0)) {
        return withRef('timeoutMs must be a positive number of milliseconds');
      }
      const call: CallMessage = { type: 'call', ref, event: msg.event };
      if (t !== undefined) call.timeoutMs = t;
      return { ok: true, message: call };
    }
    default:
      return bad(`Unknown message type ${describeType(msg.type)}: expected 'send' or 'call'`);
  }
}

/**
 * Parses and validates one frame the server sent. Never throws.
 *
 * @example
 * ```ts
 * const parsed = parseServerMessage(event.data);
 * if (parsed.ok && parsed.message.type === 'snapshot') render(parsed.message.view);
 * ```
 */
export function parseServerMessage(data: string): ParseResult<ServerMessage> {
  const json = parseJson(data);
  if (!json.ok) return json;
  const msg = json.value;
  if (!isPlainObject(msg)) return bad('A message must be a JSON object');
  switch (msg.type) {
    case 'snapshot':
      if (typeof msg.version !== 'number') return bad('A snapshot needs a numeric version');
      return {
        ok: true,
        message: {
          type: 'snapshot',
          version: msg.version,
          value: msg.value,
          view: msg.view ?? null,
        },
      };
    case 'reply':
      if (typeof msg.ref !== 'string') return bad('A reply needs a string ref');
      return { ok: true, message: { type: 'reply', ref: msg.ref, value: msg.value } };
    case 'error': {
      if (typeof msg.code !== 'string' || typeof msg.message !== 'string') {
        return bad('An error needs a string code and message');
      }
      const error: ErrorMessage = {
        type: 'error',
        code: msg.code as LiveErrorCode,
        message: msg.message,
      };
      if (typeof msg.ref === 'string') error.ref = msg.ref;
      return { ok: true, message: error };
    }
    case 'ended':
      if (typeof msg.reason !== 'string' || !END_REASONS.has(msg.reason)) {
        return bad('An ended message needs a known reason');
      }
      return { ok: true, message: { type: 'ended', reason: msg.reason as LiveEndReason } };
    default:
      return bad(`Unknown message type ${describeType(msg.type)}`);
  }
}

/**
 * Serializes a message for the wire (`JSON.stringify`; throws what it throws, for example on a
 * `BigInt` or a cycle in a view).
 *
 * @example
 * ```ts
 * socket.send(encodeMessage({ type: 'send', event: { type: 'cart.clear' } }));
 * ```
 */
export function encodeMessage(message: ServerMessage | ClientMessage): string {
  return JSON.stringify(message);
}

function parseJson(
  data: string,
): { ok: true; value: unknown } | { ok: false; code: 'BAD_MESSAGE'; message: string } {
  try {
    return { ok: true, value: JSON.parse(data) };
  } catch {
    return bad('The frame is not valid JSON');
  }
}

function bad(message: string): { ok: false; code: 'BAD_MESSAGE'; message: string } {
  return { ok: false, code: 'BAD_MESSAGE', message };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function eventProblem(event: unknown): string {
  if (!isPlainObject(event)) return 'event must be a JSON object';
  return `event.type must be a string of 1-${MAX_EVENT_TYPE_LENGTH} characters`;
}

function describeType(type: unknown): string {
  return typeof type === 'string' ? JSON.stringify(type.slice(0, 40)) : `(${typeof type})`;
}
