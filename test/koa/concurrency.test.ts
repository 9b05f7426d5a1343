import { describe, expect, it } from 'vitest';
import { startApp, type TestApp } from './helpers.js';

let t: TestApp | undefined;
describe('concurrency', () => {
  it('gives each of 1,000 concurrent clients its own process', async () => {
    t = await startApp(
      { startRate: { limit: 10_000, intervalMs: 1_000 } },
      { clientStartRate: false }, // every client here is 127.0.0.1
    );
    const clients = Array.from({ length: 1_000 }, () => t!.client());

    const first = await Promise.all(clients.map((c) => c.json('POST', '/inc')));
    const ids = new Set(first.map((r) => r.id));
    expect(ids.size).toBe(1_000);
    expect(first.every((r) => r.count === 1)).toBe(true);
    expect(t.sessions.count).toBe(1_000);

    // Each keeps its own ID and state on a second concurrent round (client i adds i % 3 more).
    const second = await Promise.all(
      clients.map(async (c, i) => {
        for (let k = 0; k < i % 3; k++) await c.json('POST', '/inc');
        return c.json('GET', '/count');
      }),
    );
    second.forEach((r, i) => {
      expect(r.id).toBe(first[i].id);
      expect(r.count).toBe(1 + (i % 3));
    });
    expect(t.sessions.count).toBe(1_000);
  });
});
