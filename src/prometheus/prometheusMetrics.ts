import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, type Registry, register } from 'prom-client';
import type { SessionSupervisor } from '../index.js';

/** session-process/koa's `koaRefusedChannel`. */
const KOA_REFUSED = 'session-process:koa:refused';

/**
 * Options of {@link prometheusMetrics}.
 *
 * @example
 * ```ts
 * prometheusMetrics(sessions, { registry: new Registry(), prefix: 'shop_', live: [liveBridge] });
 * ```
 */
export interface PrometheusMetricsOptions {
  /** The prom-client registry to register on. @default prom-client's global `register` */
  registry?: Registry | undefined;
  /** Prefix of every metric name. @default 'session_process_' */
  prefix?: string | undefined;
  /**
   * Live bridges (`attachLiveBridge` results) whose connected views the `live_connections` gauge
   * counts. Anything with a `clients` count fits.
   * @default []
   */
  live?: ReadonlyArray<{ readonly clients: number }> | undefined;
  /** Buckets of the call duration histogram, in seconds. @default [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] */
  callDurationBuckets?: number[] | undefined;
  /** Buckets of the session lifetime histogram, in seconds. @default [1, 10, 60, 300, 900, 1800, 3600, 7200, 21600, 86400] */
  lifetimeBuckets?: number[] | undefined;
}

/**
 * What {@link prometheusMetrics} returns.
 *
 * @example
 * ```ts
 * const metrics = prometheusMetrics(sessions, { registry });
 * process.once('SIGTERM', () => metrics.close());
 * ```
 */
export interface PrometheusMetrics {
  /** The registry the metrics are on. */
  readonly registry: Registry;
  /** Stops listening to the supervisor and removes the metrics from the registry. */
  close(): void;
}

/**
 * Registers the supervisor's metrics on a prom-client registry (prom-client is an optional peer
 * dependency: install it to use `session-process/prometheus`). Names below are with the default
 * prefix `session_process_`.
 *
 * Gauges, read from `sessions.stats()` at scrape time: `sessions{logic}`, `pending_calls`,
 * `subscribers`, `live_connections` (the bridges in `live`).
 * Counters, fed from the supervisor's telemetry (`sessions.on(...)`) since this call:
 * `starts_total`, `restarts_total`, `ends_total{reason}` (terminated, expired, crashed, shutdown),
 * `crashes_total`, `calls_total{outcome,code}` (outcome reply, until or error; `code` the error's),
 * `casts_total`, `refusals_total{reason}` (`rate_limited` or `session_limit` from the supervisor,
 * `client_rate_limited` from the Koa middleware's `clientStartRate`).
 * Histograms: `call_duration_seconds{outcome}`, `session_lifetime_seconds{reason}`.
 *
 * Listening to `call` and `cast` telemetry makes the supervisor time each call
 * (`performance.now()` twice): a few hundred nanoseconds per call.
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { prometheusMetrics } from 'session-process/prometheus';
 *
 * const registry = new Registry();
 * const metrics = prometheusMetrics(sessions, { registry, live: [liveBridge] });
 * router.get('/metrics', async (ctx) => {
 *   ctx.type = registry.contentType;
 *   ctx.body = await registry.metrics();
 * });
 * // on shutdown:
 * metrics.close();
 * ```
 */
export function prometheusMetrics(
  sessions: SessionSupervisor,
  options: PrometheusMetricsOptions = {},
): PrometheusMetrics {
  const registry = options.registry ?? register;
  const p = options.prefix ?? 'session_process_';
  const registers = [registry];
  const live = options.live ?? [];
  // The supervisor counts refusals of both kinds in stats().refused; telemetry only reports the
  // rate-limited ones, so the session-limit ones are the difference.
  const refusedAtStart = sessions.stats().refused;
  let rateLimited = 0;
  let limitCounted = 0;

  const metrics = [
    new Gauge({
      name: `${p}sessions`,
      help: 'Sessions running now, per logic.',
      labelNames: ['logic'],
      registers,
      collect() {
        this.reset();
        for (const [logic, n] of Object.entries(sessions.stats().byLogic)) this.set({ logic }, n);
      },
    }),
    new Gauge({
      name: `${p}pending_calls`,
      help: 'Calls waiting for a reply now.',
      registers,
      collect() {
        this.set(sessions.stats().pendingCalls);
      },
    }),
    new Gauge({
      name: `${p}subscribers`,
      help: 'Subscribers attached now, over all sessions.',
      registers,
      collect() {
        this.set(sessions.stats().subscribers);
      },
    }),
    new Gauge({
      name: `${p}live_connections`,
      help: 'Live views connected now.',
      registers,
      collect() {
        this.set(live.reduce((n, bridge) => n + bridge.clients, 0));
      },
    }),
  ];
  const starts = new Counter({ name: `${p}starts_total`, help: 'Sessions started.', registers });
  const restarts = new Counter({
    name: `${p}restarts_total`,
    help: 'Sessions restarted after a crash.',
    registers,
  });
  const ends = new Counter({
    name: `${p}ends_total`,
    help: 'Sessions ended, per reason.',
    labelNames: ['reason'],
    registers,
  });
  const crashes = new Counter({
    name: `${p}crashes_total`,
    help: 'Session crashes (restarted or not).',
    registers,
  });
  const calls = new Counter({
    name: `${p}calls_total`,
    help: 'Calls settled, per outcome (reply, until, error) and error code.',
    labelNames: ['outcome', 'code'],
    registers,
  });
  const casts = new Counter({ name: `${p}casts_total`, help: 'Casts sent.', registers });
  const refusals = new Counter({
    name: `${p}refusals_total`,
    help: 'Session starts refused, per reason (rate_limited, session_limit, client_rate_limited).',
    labelNames: ['reason'],
    registers,
    collect() {
      const limit = sessions.stats().refused - refusedAtStart - rateLimited;
      if (limit > limitCounted) this.inc({ reason: 'session_limit' }, limit - limitCounted);
      limitCounted = Math.max(limitCounted, limit);
    },
  });
  refusals.inc({ reason: 'rate_limited' }, 0);
  refusals.inc({ reason: 'session_limit' }, 0);
  refusals.inc({ reason: 'client_rate_limited' }, 0);
  // The Koa middleware's refusals never reach the supervisor: they come on a channel of their own
  // (session-process/koa's `koaRefusedChannel`), named here to keep prom-client users free of Koa.
  const onKoaRefusal = (message: unknown) => {
    const refusal = message as { supervisor?: unknown; reason?: unknown };
    if (refusal.supervisor === sessions && refusal.reason === 'client_rate_limited')
      refusals.inc({ reason: 'client_rate_limited' });
  };
  subscribe(KOA_REFUSED, onKoaRefusal);
  const callDuration = new Histogram({
    name: `${p}call_duration_seconds`,
    help: 'Time from call to settlement, per outcome.',
    labelNames: ['outcome'],
    buckets: options.callDurationBuckets ?? [
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ],
    registers,
  });
  const lifetime = new Histogram({
    name: `${p}session_lifetime_seconds`,
    help: 'Lifetime of ended sessions, per end reason.',
    labelNames: ['reason'],
    buckets: options.lifetimeBuckets ?? [1, 10, 60, 300, 900, 1800, 3600, 7200, 21600, 86400],
    registers,
  });
  metrics.push(starts as any, restarts as any, ends as any, crashes as any, calls as any);
  metrics.push(casts as any, refusals as any, callDuration as any, lifetime as any);

  const offs = [
    sessions.on('start', (e) => (e.restart ? restarts : starts).inc()),
    sessions.on('stop', (e) => {
      ends.inc({ reason: e.reason });
      lifetime.observe({ reason: e.reason }, e.lifetimeMs / 1_000);
    }),
    sessions.on('crash', () => crashes.inc()),
    sessions.on('call', (e) => {
      calls.inc({ outcome: e.outcome, code: e.errorCode ?? '' });
      callDuration.observe({ outcome: e.outcome }, e.durationMs / 1_000);
    }),
    sessions.on('cast', () => casts.inc()),
    sessions.on('rate-limited', () => {
      rateLimited++;
      refusals.inc({ reason: 'rate_limited' });
    }),
  ];

  return {
    registry,
    close() {
      unsubscribe(KOA_REFUSED, onKoaRefusal);
      for (const off of offs.splice(0)) off();
      for (const metric of metrics.splice(0))
        registry.removeSingleMetric((metric as unknown as { name: string }).name);
    },
  };
}
