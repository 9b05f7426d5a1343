/**
 * Every failure the package reports is a {@link SessionError} with a stable `code`. Match on
 * `code` (or use {@link isSessionError}), never on the message.
 */

/** The closed set of error codes. Each one is documented in the README. */
export type SessionErrorCode =
  | 'INVALID_SESSION_ID'
  | 'SESSION_ALREADY_STARTED'
  | 'SESSION_NOT_FOUND'
  | 'SESSION_LIMIT_REACHED'
  | 'RATE_LIMITED'
  | 'SESSION_INIT_FAILED'
  | 'CALL_TIMEOUT'
  | 'EVENT_NOT_ACCEPTED'
  | 'SESSION_ENDED'
  | 'SESSION_CRASHED'
  | 'UNKNOWN_LOGIC'
  | 'SESSION_RESTORE_FAILED'
  | 'STORE_UNAVAILABLE'
  | 'SESSION_ROTATED'
  | 'SESSION_VERSION_AHEAD'
  | 'STORE_CORRUPT'
  | 'RECORD_TOO_LARGE'
  | 'TOO_MANY_TIMERS';

/** HTTP status and whether the message may be shown to a client, per code. */
const HTTP: Record<SessionErrorCode, readonly [status: number, expose: boolean]> = {
  INVALID_SESSION_ID: [400, true],
  SESSION_ALREADY_STARTED: [409, true],
  SESSION_NOT_FOUND: [404, true],
  SESSION_LIMIT_REACHED: [503, true],
  RATE_LIMITED: [429, true],
  SESSION_INIT_FAILED: [500, false],
  CALL_TIMEOUT: [504, true],
  EVENT_NOT_ACCEPTED: [409, true],
  SESSION_ENDED: [410, true],
  SESSION_CRASHED: [500, false],
  UNKNOWN_LOGIC: [500, false],
  SESSION_RESTORE_FAILED: [500, false],
  STORE_UNAVAILABLE: [503, true],
  SESSION_ROTATED: [409, true],
  SESSION_VERSION_AHEAD: [503, true],
  STORE_CORRUPT: [500, false],
  RECORD_TOO_LARGE: [413, true],
  TOO_MANY_TIMERS: [429, true],
};

/** Options every {@link SessionError} accepts. */
export interface SessionErrorOptions {
  /** The session the error is about, where there is one. */
  sessionId?: string | undefined;
  /** The underlying error (a machine's exception, for example). */
  cause?: unknown;
}

/**
 * Base class of every error this package throws or rejects with.
 *
 * @example
 * ```ts
 * try {
 *   await sessions.call(id, { type: 'cart.total' });
 * } catch (err) {
 *   if (isSessionError(err, 'CALL_TIMEOUT')) retryLater();
 *   else throw err;
 * }
 * ```
 */
export class SessionError extends Error {
  override name: string = 'SessionError';
  /** Stable machine-readable code. */
  readonly code: SessionErrorCode;
  /** The session concerned, where there is one. */
  readonly sessionId: string | undefined;
  /** HTTP status a server should answer with. */
  readonly status: number;
  /** Whether `message` is safe to show to a client (Koa's `expose`). */
  readonly expose: boolean;

  constructor(code: SessionErrorCode, message: string, options: SessionErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.sessionId = options.sessionId;
    const [status, expose] = HTTP[code];
    this.status = status;
    this.expose = expose;
  }
}

/** `id` is not 1–128 characters of `[A-Za-z0-9_-]`. */
export class InvalidSessionIdError extends SessionError {
  override name = 'InvalidSessionIdError' as const;
  constructor(value: unknown) {
    super(
      'INVALID_SESSION_ID',
      `Invalid session ID ${describe(value)}: expected 1-128 characters of [A-Za-z0-9_-]`,
    );
  }
}

/** `start` was called for an ID whose session is running. */
export class SessionAlreadyStartedError extends SessionError {
  override name = 'SessionAlreadyStartedError' as const;
  constructor(sessionId: string) {
    super('SESSION_ALREADY_STARTED', `Session '${sessionId}' is already started`, { sessionId });
  }
}

/** No running session has this ID. */
export class SessionNotFoundError extends SessionError {
  override name = 'SessionNotFoundError' as const;
  constructor(sessionId: string) {
    super('SESSION_NOT_FOUND', `Session '${sessionId}' was not found`, { sessionId });
  }
}

/** `maxSessions` sessions are running. */
export class SessionLimitReachedError extends SessionError {
  override name = 'SessionLimitReachedError' as const;
  /** A hint: milliseconds until a slot is likely to free up. */
  readonly retryAfterMs: number;
  constructor(limit: number, retryAfterMs: number) {
    super('SESSION_LIMIT_REACHED', `Session limit of ${limit} reached`);
    this.retryAfterMs = retryAfterMs;
  }
}

/** More sessions were started within `startRate.intervalMs` than `startRate.limit` allows. */
export class RateLimitedError extends SessionError {
  override name = 'RateLimitedError' as const;
  /** Milliseconds until the current rate window closes. */
  readonly retryAfterMs: number;
  /** Starts allowed per window. */
  readonly limit: number;
  /** The window, in milliseconds. */
  readonly intervalMs: number;
  constructor(limit: number, intervalMs: number, retryAfterMs: number) {
    super('RATE_LIMITED', `More than ${limit} session starts within ${intervalMs} ms`);
    this.retryAfterMs = retryAfterMs;
    this.limit = limit;
    this.intervalMs = intervalMs;
  }
}

/** The session's logic failed while starting (an entry action threw, say); nothing was kept. */
export class SessionInitFailedError extends SessionError {
  override name = 'SessionInitFailedError' as const;
  constructor(sessionId: string, message: string, cause?: unknown) {
    super('SESSION_INIT_FAILED', `Session '${sessionId}' failed to start: ${message}`, {
      sessionId,
      cause,
    });
  }
}

/** A `call` got no reply within its timeout. */
export class CallTimeoutError extends SessionError {
  override name = 'CallTimeoutError' as const;
  readonly timeoutMs: number;
  readonly eventType: string;
  constructor(sessionId: string, eventType: string, timeoutMs: number) {
    super(
      'CALL_TIMEOUT',
      `Call '${eventType}' to session '${sessionId}' got no reply within ${timeoutMs} ms`,
      { sessionId },
    );
    this.timeoutMs = timeoutMs;
    this.eventType = eventType;
  }
}

/** The session's current state does not accept the event (or the event is not an event object). */
export class EventNotAcceptedError extends SessionError {
  override name = 'EventNotAcceptedError' as const;
  readonly eventType: string | undefined;
  constructor(sessionId: string | undefined, eventType: string | undefined, detail?: string) {
    super(
      'EVENT_NOT_ACCEPTED',
      detail ?? `Session '${sessionId}' does not accept '${eventType}' in its current state`,
      { sessionId },
    );
    this.eventType = eventType;
  }
}

/** The session ended (terminated, expired or shut down) while a call waited. */
export class SessionEndedError extends SessionError {
  override name = 'SessionEndedError' as const;
  readonly reason: string;
  constructor(sessionId: string, reason: string) {
    super('SESSION_ENDED', `Session '${sessionId}' ended (${reason})`, { sessionId });
    this.reason = reason;
  }
}

/** The session's machine threw; `cause` is what it threw. */
export class SessionCrashedError extends SessionError {
  override name = 'SessionCrashedError' as const;
  constructor(sessionId: string, cause: unknown) {
    super('SESSION_CRASHED', `Session '${sessionId}' crashed: ${messageOf(cause)}`, {
      sessionId,
      cause,
    });
  }
}

/** `start` named a logic that is not in `logics` (or no default `logic` was given). */
export class UnknownLogicError extends SessionError {
  override name = 'UnknownLogicError' as const;
  constructor(name: string | undefined, known: readonly string[]) {
    super(
      'UNKNOWN_LOGIC',
      name === undefined
        ? 'No logic given and the supervisor has no default `logic`'
        : `Unknown logic '${name}'; known: ${known.length ? known.join(', ') : '(none)'}`,
    );
  }
}

/**
 * A stored session could not be brought back (corrupt record, unknown logic, a state the machine
 * no longer has). The record is kept in the store for inspection; `cause` says what failed.
 */
export class SessionRestoreFailedError extends SessionError {
  override name = 'SessionRestoreFailedError' as const;
  constructor(sessionId: string, cause: unknown) {
    super(
      'SESSION_RESTORE_FAILED',
      `Session '${sessionId}' could not be restored: ${messageOf(cause)}`,
      {
        sessionId,
        cause,
      },
    );
  }
}

/** The session store did not answer (down, timed out, refused); `cause` is its error. */
export class StoreUnavailableError extends SessionError {
  override name = 'StoreUnavailableError' as const;
  constructor(cause: unknown, sessionId?: string) {
    // A store's own STORE_UNAVAILABLE is not wrapped twice: its cause is the one that matters.
    const inner = isSessionError(cause, 'STORE_UNAVAILABLE') ? (cause.cause ?? cause) : cause;
    super('STORE_UNAVAILABLE', `The session store is unavailable: ${messageOf(inner)}`, {
      sessionId,
      cause: inner,
    });
  }
}

/**
 * The session moved to a new ID a moment ago (`rename`, Koa's `rotate()`), and this request still
 * carries the old one: a concurrent request of the same browser. Retry: the browser holds the new
 * ID by then. The old ID reaches nothing, and nothing starts under it, while the tombstone lasts.
 */
export class SessionRotatedError extends SessionError {
  override name = 'SessionRotatedError' as const;
  constructor(sessionId: string) {
    super('SESSION_ROTATED', `Session '${sessionId}' moved to a new ID; retry with the new one`, {
      sessionId,
    });
  }
}

/**
 * The stored record was written by a newer version of the session's logic than any this process
 * holds (or by one it cannot order). It is left untouched, for the newer code to serve.
 */
export class SessionVersionAheadError extends SessionError {
  override name = 'SessionVersionAheadError' as const;
  /** The version that wrote the record. */
  readonly recordVersion: string;
  /** The versions this process holds, oldest first. */
  readonly known: readonly string[];
  constructor(sessionId: string, recordVersion: string, known: readonly string[]) {
    super(
      'SESSION_VERSION_AHEAD',
      `Session '${sessionId}' was written by version '${recordVersion}', newer than this process holds (${known.length ? known.join(', ') : 'none'})`,
      { sessionId },
    );
    this.recordVersion = recordVersion;
    this.known = known;
  }
}

/**
 * The store's own data is damaged (SQLite reported corruption, or the store lost data it had
 * written); `cause` is the underlying error. Not retried: an operator must look.
 */
export class StoreCorruptError extends SessionError {
  override name = 'StoreCorruptError' as const;
  constructor(cause: unknown, sessionId?: string) {
    super('STORE_CORRUPT', `The session store is corrupt: ${messageOf(cause)}`, {
      sessionId,
      cause,
    });
  }
}

/** A session's encoded record is larger than `maxRecordBytes` (on write or on read). */
export class RecordTooLargeError extends SessionError {
  override name = 'RecordTooLargeError' as const;
  /** The record's size in bytes. */
  readonly bytes: number;
  /** The limit, in bytes. */
  readonly limit: number;
  constructor(sessionId: string, bytes: number, limit: number) {
    super(
      'RECORD_TOO_LARGE',
      `Session '${sessionId}' record is ${bytes} bytes, over maxRecordBytes (${limit})`,
      { sessionId },
    );
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** The event would leave the session with more than `maxTimers` pending timers; it was refused. */
export class TooManyTimersError extends SessionError {
  override name = 'TooManyTimersError' as const;
  /** The limit. */
  readonly limit: number;
  constructor(sessionId: string, limit: number) {
    super(
      'TOO_MANY_TIMERS',
      `Session '${sessionId}' would hold more than ${limit} pending timers`,
      {
        sessionId,
      },
    );
    this.limit = limit;
  }
}

const NAME_TO_CODE: Record<string, SessionErrorCode> = {
  InvalidSessionIdError: 'INVALID_SESSION_ID',
  SessionAlreadyStartedError: 'SESSION_ALREADY_STARTED',
  SessionNotFoundError: 'SESSION_NOT_FOUND',
  SessionLimitReachedError: 'SESSION_LIMIT_REACHED',
  RateLimitedError: 'RATE_LIMITED',
  SessionInitFailedError: 'SESSION_INIT_FAILED',
  CallTimeoutError: 'CALL_TIMEOUT',
  EventNotAcceptedError: 'EVENT_NOT_ACCEPTED',
  SessionEndedError: 'SESSION_ENDED',
  SessionCrashedError: 'SESSION_CRASHED',
  UnknownLogicError: 'UNKNOWN_LOGIC',
  SessionRestoreFailedError: 'SESSION_RESTORE_FAILED',
  StoreUnavailableError: 'STORE_UNAVAILABLE',
  SessionRotatedError: 'SESSION_ROTATED',
  SessionVersionAheadError: 'SESSION_VERSION_AHEAD',
  StoreCorruptError: 'STORE_CORRUPT',
  RecordTooLargeError: 'RECORD_TOO_LARGE',
  TooManyTimersError: 'TOO_MANY_TIMERS',
};

/**
 * Whether `err` is a {@link SessionError} (optionally with the given code). Compares by `name`
 * and `code` too, so it works across realms and duplicated copies of the package.
 *
 * @example
 * ```ts
 * if (isSessionError(err, 'SESSION_NOT_FOUND')) ctx.status = 404;
 * ```
 */
export function isSessionError<TCode extends SessionErrorCode>(
  err: unknown,
  code?: TCode,
): err is SessionError & { code: TCode } {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown };
  const named =
    err instanceof SessionError ||
    e.name === 'SessionError' ||
    (typeof e.name === 'string' && NAME_TO_CODE[e.name] !== undefined);
  if (!named) return false;
  return code === undefined || e.code === code;
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return `(${value === null ? 'null' : typeof value})`;
}

/**
 * @internal
 * The message of a thrown value, for a message of our own: an `Error`'s `message`, anything
 * else as `String()` makes it (a thrown string, number, `undefined`).
 */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
