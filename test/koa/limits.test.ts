import { describe, expect, it } from 'vitest';
import { COOKIE, startApp, type TestApp } from './helpers.js';

let t: TestApp | undefined;
describe('limits', () => {
  it('answers 503 with Retry-After when the session limit is reached, and serves existing sessions', async () => {
    t = await startApp({ maxSessions: 2, idleTimeoutMs: 120_000 });
    const a = t.client();
    const b = t.client();
    await a.json('POST', '/inc');
    await b.json('POST', '/inc');

    const c = t.client();
    const refused = await c.request('GET', '/count');
    expect(refused.status).toBe(503);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(120);
    expect(await refused.text()).toMatch(/Session limit of 2 reached/);
    expect(c.cookies.has(COOKIE)).toBe(false);
    expect(t.sessions.count).toBe(2);

    // Existing sessions are unaffected.
    expect((await a.json('POST', '/inc')).count).toBe(2);
    expect((await b.json('GET', '/count')).count).toBe(1);

    // Once a slot frees up, the refused client gets in.
    await a.request('POST', '/logout');
    expect((await c.json('POST', '/inc')).count).toBe(1);
  });

  it('answers 429 with Retry-After in seconds when sessions start too fast', async () => {
    t = await startApp({ startRate: { limit: 2, intervalMs: 30_000 } });
    await t.client().json('GET', '/count');
    await t.client().json('GET', '/count');
    const refused = await t.client().request('GET', '/count');
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(25);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(t.sessions.count).toBe(2);
  });

  it('answers 429 for a lazy first cast that is refused', async () => {
    t = await startApp({ startRate: { limit: 1, intervalMs: 30_000 } }, { lazy: true });
    expect((await t.client().request('POST', '/cast')).status).toBe(204);
    const refused = await t.client().request('POST', '/cast');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    // A request that does not use the process is still served.
    expect((await t.client().request('GET', '/static')).status).toBe(200);
  });
});
