import type { LiveRefusalCode } from './protocol.js';

/**
 * What was wrong with a refused upgrade:
 * - `origin`: no `Origin`, or one the bridge's `origins` does not allow;
 * - `cookie`: no valid session cookie, no `sessionId` in it, its session is not running, was
 *   rotated away a moment ago, or cannot be restored (`SESSION_REPLACED`);
 * - `path`: an upgrade to a path no session-process handler serves;
 * - `limit`: `maxViewsPerSession`, `maxViewsPerClient` or `maxConnections` reached;
 * - `subprotocol`: the client offered only subprotocols the bridge does not speak;
 * - `closing`: the bridge is closing.
 */
export type LiveRefusalReason = 'origin' | 'cookie' | 'path' | 'limit' | 'subprotocol' | 'closing';

/** The code of a {@link LiveRefusedError}: what the client learns, or what the HTTP status says. */
export type LiveRefusedCode = LiveRefusalCode | 'SERVER_BUSY' | 'BAD_REQUEST';

/**
 * A refused live-view upgrade, as the bridge reports it to `onError` and publishes it on the
 * `session-process:live-refused` channel. Not thrown: it describes what the peer was told.
 *
 * @example
 * ```ts
 * attachLiveBridge(server, {
 *   ...options,
 *   onError: (err) => {
 *     if (isLiveRefusedError(err)) log.warn({ reason: err.reason, origin: err.origin }, err.message);
 *     else log.error(err);
 *   },
 * });
 * ```
 */
export class LiveRefusedError extends Error {
  override name = 'LiveRefusedError' as const;
  /** What the peer was told: the close code's name, or the HTTP status's. */
  readonly code: LiveRefusedCode;
  /** What was wrong. */
  readonly reason: LiveRefusalReason;
  /** The HTTP status the refusal stands for (sent as such to a client without the subprotocol). */
  readonly status: number;
  /** The request's `Origin` header, if any. */
  readonly origin: string | undefined;
  /** The session the cookie named, when it was read. */
  readonly sessionId: string | undefined;

  constructor(
    reason: LiveRefusalReason,
    code: LiveRefusedCode,
    status: number,
    message: string,
    details: { origin?: string | undefined; sessionId?: string | undefined } = {},
  ) {
    super(message);
    this.reason = reason;
    this.code = code;
    this.status = status;
    this.origin = details.origin;
    this.sessionId = details.sessionId;
  }
}

/**
 * Whether `err` is a {@link LiveRefusedError}. Compares `name`, so it works across copies of the
 * package.
 *
 * @example
 * ```ts
 * onError: (err) => (isLiveRefusedError(err) ? metrics.refused.inc({ reason: err.reason }) : log.error(err)),
 * ```
 */
export function isLiveRefusedError(err: unknown): err is LiveRefusedError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'LiveRefusedError'
  );
}
