import { channel } from 'node:diagnostics_channel';

/**
 * Why the visualizer refused a request or an upgrade of its feed:
 * - `host`: the `Host` is not in `allowedHosts` (DNS rebinding defence);
 * - `origin`: a browser page of another origin opened the feed (`origins`);
 * - `authorize`: `authorize` returned false or threw;
 * - `path`: an upgrade under the mount path that is not `${path}/feed`;
 * - `limit`: `maxConnections` feeds are open (or opening) already;
 * - `no-app`: a feed upgrade before the middleware saw a request, without the `app` option.
 */
export type RefusalReason = 'host' | 'origin' | 'authorize' | 'path' | 'limit' | 'no-app';

/** Why the visualizer closed an open feed: a browser that does not read what it asked for. */
export type DropReason = 'slow-reader';

/** Codes of {@link VisualizerError}. */
export type VisualizerErrorCode = 'VISUALIZER_REFUSED' | 'VISUALIZER_DROPPED';

/** What the visualizer tells `onError` and its telemetry channels about a refusal or a drop. */
export interface VisualizerReport {
  code: VisualizerErrorCode;
  reason: RefusalReason | DropReason;
  /** `page`: the page or its assets (an HTTP request); `feed`: the WebSocket feed. */
  target: 'page' | 'feed';
  /** What the operator can change, in a sentence or two (also the body of the 403 page). */
  message: string;
  /** The request's `Host` header, `Origin` header, path and peer address, when known. */
  host?: string;
  origin?: string;
  path?: string;
  remoteAddress?: string;
  /** For a drop: bytes waiting to be sent, and requests left unanswered, when it was closed. */
  bufferedBytes?: number;
  unansweredRequests?: number;
}

/**
 * The error `onError` receives when the visualizer refuses a request or an upgrade, or drops a
 * feed, with the {@link VisualizerReport} fields on it. A refusal is not a failure of the
 * server: it is reported so that a wrong `allowedHosts`, `origins` or `authorize` is visible
 * instead of a silent 403 or an endless reconnect.
 *
 * @example
 * ```ts
 * visualizer(sessions, {
 *   onError: (err) => {
 *     if (isVisualizerError(err)) log.warn({ reason: err.reason, host: err.host }, err.message);
 *   },
 * });
 * ```
 */
export class VisualizerError extends Error implements VisualizerReport {
  override readonly name = 'VisualizerError' as const;
  readonly code: VisualizerErrorCode;
  readonly reason: RefusalReason | DropReason;
  readonly target: 'page' | 'feed';
  readonly host?: string;
  readonly origin?: string;
  readonly path?: string;
  readonly remoteAddress?: string;
  readonly bufferedBytes?: number;
  readonly unansweredRequests?: number;

  constructor(report: VisualizerReport, options?: { cause?: unknown }) {
    super(report.message, options);
    this.code = report.code;
    this.reason = report.reason;
    this.target = report.target;
    for (const k of [
      'host',
      'origin',
      'path',
      'remoteAddress',
      'bufferedBytes',
      'unansweredRequests',
    ] as const) {
      if (report[k] !== undefined) Object.assign(this, { [k]: report[k] });
    }
  }

  /** The report as plain data (what the telemetry channels publish). */
  toJSON(): VisualizerReport {
    const out: VisualizerReport = {
      code: this.code,
      reason: this.reason,
      target: this.target,
      message: this.message,
    };
    for (const k of [
      'host',
      'origin',
      'path',
      'remoteAddress',
      'bufferedBytes',
      'unansweredRequests',
    ] as const) {
      if (this[k] !== undefined) Object.assign(out, { [k]: this[k] });
    }
    return out;
  }
}

/**
 * Whether `err` is a {@link VisualizerError} (by class or, across copies of the package, by
 * name), optionally with this `code`.
 *
 * @example
 * ```ts
 * if (isVisualizerError(err, 'VISUALIZER_REFUSED')) console.warn(err.reason, err.message);
 * ```
 */
export function isVisualizerError(
  err: unknown,
  code?: VisualizerErrorCode,
): err is VisualizerError {
  const ok =
    err instanceof VisualizerError ||
    (err instanceof Error && err.name === 'VisualizerError' && 'reason' in err);
  return ok && (code === undefined || (err as VisualizerError).code === code);
}

/**
 * The `node:diagnostics_channel` channels the visualizer publishes its reports on, as plain
 * {@link VisualizerReport} objects: `session-process:visualizer-refused` (a refused request or
 * upgrade) and `session-process:visualizer-dropped` (a feed closed for not reading).
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe('session-process:visualizer-refused', (report) => log.warn(report));
 * ```
 */
export const visualizerTelemetryChannels = {
  refused: channel('session-process:visualizer-refused'),
  dropped: channel('session-process:visualizer-dropped'),
} as const;
