/**
 * `session-process/prometheus`: the supervisor's gauges, counters and histograms on a
 * prom-client registry (prom-client is an optional peer dependency).
 */
export {
  type PrometheusMetrics,
  type PrometheusMetricsOptions,
  prometheusMetrics,
} from './prometheusMetrics.js';
export { type MetricsMiddlewareOptions, metricsMiddleware } from './metricsMiddleware.js';
