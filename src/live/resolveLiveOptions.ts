import type Koa from 'koa';
import { clientAddress } from '../koa/index.js';
import { compileEventChecks, type EventCheck } from './eventChecks.js';
import type { LiveRefusalReason } from './LiveRefusedError.js';
import { defaultOnError, originCheck } from './refuseUpgrade.js';
import type { LiveBridgeOptions } from './types.js';

/** @internal {@link LiveBridgeOptions} with their defaults applied and checked. */
export interface ResolvedLiveOptions {
  checks: Map<string, EventCheck>;
  path: string;
  originOk: ReturnType<typeof originCheck>;
  heartbeatMs: number;
  rejectOtherPaths: boolean;
  maxViewsPerSession: number;
  maxConnections: number;
  maxViewsPerClient: number;
  headersTimeoutMs: number;
  maxPayloadBytes: number;
  clientKey: (ctx: Koa.Context) => string;
  /** The per-view limits each `LiveConnection` enforces. */
  limits: {
    highWaterMarkBytes: number;
    maxBufferedBytes: number;
    maxPendingCalls: number;
    callTimeoutMs: number | undefined;
    maxCallTimeoutMs: number;
  };
  /** `onError`, called so that it never throws. */
  report(error: unknown, sessionId?: string, reason?: LiveRefusalReason): void;
}

/**
 * @internal
 * Applies the bridge's defaults and checks its options: a wrong option fails here, at start-up,
 * before anything is attached to the server.
 */
export function resolveLiveOptions(options: LiveBridgeOptions<any>): ResolvedLiveOptions {
  if (typeof options.session !== 'function') {
    throw new TypeError('attachLiveBridge: `session` must be the app’s koa-session middleware');
  }
  // Before anything is attached: a wrong `events` entry fails here, at start-up.
  const checks = compileEventChecks(options.events);
  const path = options.path ?? '/live';
  const originOk = originCheck(options.origins);
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const rejectOtherPaths = options.rejectOtherPaths ?? true;
  const maxViewsPerSession = options.maxViewsPerSession ?? 32;
  const maxConnections = options.maxConnections ?? 10_000;
  const maxViewsPerClient = options.maxViewsPerClient ?? 256;
  const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
  const clientKey: (ctx: Koa.Context) => string =
    options.clientKey ?? ((ctx) => clientAddress(ctx));
  if (!(maxViewsPerClient > 0)) throw new RangeError('maxViewsPerClient must be > 0');
  if (!(headersTimeoutMs >= 0)) throw new RangeError('headersTimeoutMs must be >= 0');
  const onError = options.onError ?? defaultOnError();
  const report = (error: unknown, sessionId?: string, reason?: LiveRefusalReason): void => {
    const info: { sessionId?: string; reason?: LiveRefusalReason } = {};
    if (sessionId !== undefined) info.sessionId = sessionId;
    if (reason !== undefined) info.reason = reason;
    try {
      onError(error, info);
    } catch {
      // an onError that throws has nowhere left to report to
    }
  };
  return {
    checks,
    path,
    originOk,
    heartbeatMs,
    rejectOtherPaths,
    maxViewsPerSession,
    maxConnections,
    maxViewsPerClient,
    headersTimeoutMs,
    maxPayloadBytes: options.maxPayloadBytes ?? 16_384,
    clientKey,
    limits: {
      highWaterMarkBytes: options.highWaterMarkBytes ?? 65_536,
      maxBufferedBytes: options.maxBufferedBytes ?? 1_048_576,
      maxPendingCalls: options.maxPendingCalls ?? 16,
      callTimeoutMs: options.callTimeoutMs,
      maxCallTimeoutMs: options.maxCallTimeoutMs ?? 30_000,
    },
    report,
  };
}
