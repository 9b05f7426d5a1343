import { Registry } from 'prom-client';
import { createSessionSupervisor } from 'session-process';
import { prometheusMetrics } from 'session-process/prometheus';
import { describe, expect, it } from 'vitest';
import { tallyMachine } from '../koa/helpers.js';
import { serveApp } from '../support/index.js';

/** Serves `registry` over HTTP, as an app's /metrics does, and scrapes it once. */
async function scrape(registry: Registry): Promise<string> {
  const { url } = await serveApp(async (_req, res) => {
    res.setHeader('content-type', registry.contentType);
    res.end(await registry.metrics());
  });
  const res = await fetch(`${url}/metrics`);
  expect(res.headers.get('content-type')).toMatch(/text\/plain/);
  return res.text();
}

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('prometheusMetrics', () => {
  it('exposes gauges, counters and histograms that follow the supervisor', async () => {
    const sessions = createSessionSupervisor({
      logics: { tally: tallyMachine, other: tallyMachine },
      maxSessions: 3,
      onError: () => {},
    });
    const registry = new Registry();
    const live = { clients: 2 };
    const metrics = prometheusMetrics(sessions, { registry, live: [live] });
    try {
      await sessions.start('a', { logic: 'tally' });
      await sessions.start('b', { logic: 'tally' });
      await sessions.start('c', { logic: 'other' });
      await expect(sessions.start('d', { logic: 'tally' })).rejects.toThrow(/limit/);
      sessions.cast('a', { type: 'inc' });
      expect(await sessions.call('a', { type: 'get' })).toBe(1);
      await expect(
        sessions.call('a', { type: 'nope' } as unknown as { type: 'get' }),
      ).rejects.toThrow();
      const off = sessions.subscribe('b', () => {});
      await expect(sessions.call('c', { type: 'boom' })).rejects.toThrow(/boom/);
      await sessions.terminate('b');
      off();

      const text = await scrape(registry);
      expect(value(text, 'session_process_sessions{logic="tally"}')).toBe(1);
      expect(value(text, 'session_process_sessions{logic="other"}')).toBeUndefined();
      expect(value(text, 'session_process_pending_calls')).toBe(0);
      expect(value(text, 'session_process_subscribers')).toBe(0);
      expect(value(text, 'session_process_live_connections')).toBe(2);
      expect(value(text, 'session_process_starts_total')).toBe(3);
      expect(value(text, 'session_process_ends_total{reason="terminated"}')).toBe(1);
      expect(value(text, 'session_process_ends_total{reason="crashed"}')).toBe(1);
      expect(value(text, 'session_process_crashes_total')).toBe(1);
      expect(value(text, 'session_process_casts_total')).toBe(1);
      expect(value(text, 'session_process_calls_total{outcome="reply",code=""}')).toBe(1);
      expect(
        value(text, 'session_process_calls_total{outcome="error",code="EVENT_NOT_ACCEPTED"}'),
      ).toBe(1);
      expect(value(text, 'session_process_refusals_total{reason="session_limit"}')).toBe(1);
      expect(value(text, 'session_process_refusals_total{reason="rate_limited"}')).toBe(0);
      expect(value(text, 'session_process_call_duration_seconds_count{outcome="reply"}')).toBe(1);
      expect(
        value(text, 'session_process_session_lifetime_seconds_count{reason="terminated"}'),
      ).toBe(1);
      expect(text).toMatch(/# TYPE session_process_call_duration_seconds histogram/);

      // Counters only grow between scrapes; a second scrape does not count the refusal twice.
      expect(
        value(await scrape(registry), 'session_process_refusals_total{reason="session_limit"}'),
      ).toBe(1);
    } finally {
      metrics.close();
      await sessions.shutdown();
    }
    expect((await registry.metrics()).trim()).toBe('');
  });

  it('counts restarts and rate-limited starts, with a custom prefix', async () => {
    const sessions = createSessionSupervisor({
      logic: tallyMachine,
      restart: { onCrash: true },
      startRate: { limit: 1, intervalMs: 60_000 },
      onError: () => {},
    });
    const registry = new Registry();
    const metrics = prometheusMetrics(sessions, { registry, prefix: 'shop_' });
    try {
      await sessions.start('a');
      await expect(sessions.start('b')).rejects.toThrow();
      await expect(sessions.call('a', { type: 'boom' })).rejects.toThrow();
      const text = await scrape(registry);
      expect(value(text, 'shop_restarts_total')).toBe(1);
      expect(value(text, 'shop_starts_total')).toBe(1);
      expect(value(text, 'shop_refusals_total{reason="rate_limited"}')).toBe(1);
      expect(value(text, 'shop_refusals_total{reason="session_limit"}')).toBe(0);
    } finally {
      metrics.close();
      await sessions.shutdown();
    }
  });
});
