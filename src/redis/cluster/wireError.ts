import {
  CallTimeoutError,
  EventNotAcceptedError,
  InvalidSessionIdError,
  isSessionError,
  RateLimitedError,
  RecordTooLargeError,
  SessionAlreadyStartedError,
  SessionCrashedError,
  SessionEndedError,
  type SessionError,
  type SessionErrorCode,
  SessionInitFailedError,
  SessionLimitReachedError,
  SessionNotFoundError,
  SessionRestoreFailedError,
  SessionRotatedError,
  SessionVersionAheadError,
  StoreUnavailableError,
  TooManyTimersError,
  UnknownLogicError,
} from '../../index.js';

/** @internal An error as it crosses the wire: code and message, plus the fields its class has. */
export interface WireError {
  code?: SessionErrorCode;
  name: string;
  message: string;
  sessionId?: string;
  retryAfterMs?: number;
  timeoutMs?: number;
  eventType?: string;
  reason?: string;
  /** SESSION_VERSION_AHEAD: the version that wrote the record, and the ones the node holds. */
  recordVersion?: string;
  known?: string[];
  limit?: number;
  bytes?: number;
}

/** @internal */
export function toWire(err: unknown): WireError {
  if (isSessionError(err)) {
    const e = err as SessionError & Record<string, unknown>;
    const out: WireError = { code: e.code, name: e.name, message: e.message };
    if (e.sessionId !== undefined) out.sessionId = e.sessionId;
    if (Array.isArray(e.known)) out.known = e.known.map(String);
    for (const k of [
      'retryAfterMs',
      'timeoutMs',
      'eventType',
      'reason',
      'recordVersion',
      'limit',
      'bytes',
    ] as const) {
      const v = e[k];
      if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
    }
    return out;
  }
  const e = err as { name?: unknown; message?: unknown } | null;
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(err),
  };
}

/**
 * @internal Rebuilds the error a remote node threw as the same `SessionError` subclass (so
 * `instanceof` and `isSessionError(err, code)` hold on the caller's node), with the same message.
 */
export function fromWire(w: WireError): Error {
  const id = w.sessionId ?? '';
  const cause = { message: w.message };
  let err: Error;
  switch (w.code) {
    case 'INVALID_SESSION_ID':
      err = new InvalidSessionIdError(id);
      break;
    case 'SESSION_ALREADY_STARTED':
      err = new SessionAlreadyStartedError(id);
      break;
    case 'SESSION_NOT_FOUND':
      err = new SessionNotFoundError(id);
      break;
    case 'SESSION_LIMIT_REACHED':
      err = new SessionLimitReachedError(0, w.retryAfterMs ?? 1_000);
      break;
    case 'RATE_LIMITED':
      err = new RateLimitedError(0, 0, w.retryAfterMs ?? 1_000);
      break;
    case 'SESSION_INIT_FAILED':
      err = new SessionInitFailedError(id, w.message, cause);
      break;
    case 'CALL_TIMEOUT':
      err = new CallTimeoutError(id, w.eventType ?? '', w.timeoutMs ?? 0);
      break;
    case 'EVENT_NOT_ACCEPTED':
      err = new EventNotAcceptedError(w.sessionId, w.eventType, w.message);
      break;
    case 'SESSION_ENDED':
      err = new SessionEndedError(id, w.reason ?? 'terminated');
      break;
    case 'SESSION_CRASHED':
      err = new SessionCrashedError(id, cause);
      break;
    case 'UNKNOWN_LOGIC':
      err = new UnknownLogicError(undefined, []);
      break;
    case 'SESSION_RESTORE_FAILED':
      err = new SessionRestoreFailedError(id, cause);
      break;
    case 'STORE_UNAVAILABLE':
      err = new StoreUnavailableError(cause, w.sessionId);
      break;
    case 'SESSION_ROTATED':
      err = new SessionRotatedError(id);
      break;
    case 'SESSION_VERSION_AHEAD':
      err = new SessionVersionAheadError(id, w.recordVersion ?? '', w.known ?? []);
      // Set when a node holding the version is alive but did not answer: try again then.
      if (w.retryAfterMs !== undefined)
        (err as unknown as { retryAfterMs: number }).retryAfterMs = w.retryAfterMs;
      break;
    case 'TOO_MANY_TIMERS':
      err = new TooManyTimersError(id, w.limit ?? 0);
      break;
    case 'RECORD_TOO_LARGE':
      err = new RecordTooLargeError(id, w.bytes ?? 0, w.limit ?? 0);
      break;
    default:
      err = new Error(w.message);
      err.name = w.name;
      return err;
  }
  err.message = w.message;
  if (w.sessionId === undefined)
    (err as unknown as { sessionId: string | undefined }).sessionId = undefined;
  return err;
}
