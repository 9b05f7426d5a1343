import { channel } from 'node:diagnostics_channel';
import type { SessionSupervisor } from '../index.js';

/** Payload of {@link koaRefusedChannel}. */
export interface KoaRefusal {
  /** The supervisor the refused start was for. */
  supervisor: SessionSupervisor;
  /** Why: the client address used up its `clientStartRate`. */
  reason: 'client_rate_limited';
  /** The client key (`clientAddress(ctx)` by default: the address the trusted proxy hops saw). */
  client: string;
  /** Milliseconds until the client may start a session again. */
  retryAfterMs: number;
}

/**
 * The `node:diagnostics_channel` channel `session-process:koa:refused`: a session start the Koa
 * middleware refused before it reached the supervisor (a client over its `clientStartRate`).
 * `session-process/prometheus` counts these in `refusals_total{reason="client_rate_limited"}`.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe('session-process:koa:refused', (msg) => log.warn(msg));
 * ```
 */
export const koaRefusedChannel = channel('session-process:koa:refused');
