import { describe, expect, it } from 'vitest';
import type { CookieJar } from '../support/index.js';
import { decodeSession, startApp, type TestApp } from './helpers.js';

// Concurrent requests of one browser (one cookie jar) around each state change the Koa layer
// makes: rotate, terminate, expiry, crash restart. 1,000 rounds each, spread over parallel lanes
// (independent browsers), on real HTTP with real koa-session. Nothing may be lost: no acknowledged
// change is missing afterwards, no request is answered from a fresh empty session that should
// not be, and the browser ends up with one process.

const ROUNDS = 1_000;
const LANES = 20;

let t: TestApp | undefined;
type Op = 'rotate' | 'inc' | 'add' | 'count' | 'terminate' | 'boom';
const ROUTES: Record<Op, [string, string]> = {
  rotate: ['POST', '/rotate'],
  inc: ['POST', '/inc'],
  add: ['POST', '/add'],
  count: ['GET', '/count'],
  terminate: ['POST', '/terminate'],
  boom: ['POST', '/boom'],
};

interface Answer {
  op: Op;
  status: number;
  body: any;
  setCookie: string[];
  retryAfter: string | null;
}

/**
 * Sends `ops` in a random order with the browser's current cookies: at once, or each after a
 * random delay of up to `spreadMs`.
 */
async function burst(client: CookieJar, ops: Op[], spreadMs = 0): Promise<Answer[]> {
  const shuffled = [...ops].sort(() => Math.random() - 0.5);
  return Promise.all(
    shuffled.map(async (op) => {
      if (spreadMs > 0) await new Promise((r) => setTimeout(r, Math.random() * spreadMs));
      const [method, path] = ROUTES[op];
      const res = await client.request(method, path);
      const text = await res.text();
      let body: any = text;
      try {
        body = JSON.parse(text);
      } catch {}
      return {
        op,
        status: res.status,
        body,
        setCookie: res.headers.getSetCookie(),
        retryAfter: res.headers.get('retry-after'),
      };
    }),
  );
}

function idOf(client: CookieJar): unknown {
  return decodeSession(client)?.sessionId;
}

/** Runs `round(lane, i)` ROUNDS times in total over `width` parallel lanes. */
async function lanes(
  round: (lane: number, i: number) => Promise<void>,
  width = LANES,
): Promise<void> {
  await Promise.all(
    Array.from({ length: width }, async (_, lane) => {
      for (let i = lane; i < ROUNDS; i += width) await round(lane, i);
    }),
  );
}

function expectRotatedAnswer(a: Answer): void {
  expect(a.status).toBe(409);
  expect(a.retryAfter).toBe('0');
  expect(a.setCookie).toEqual([]);
}

describe('races', { timeout: 90_000 }, () => {
  it('loses nothing when requests race a rotation (1,000 rounds)', async () => {
    t = await startApp({ rotatedIdTtlMs: 60_000 }, { clientStartRate: false });
    const clients = Array.from({ length: LANES }, () => t!.client());
    const expected = Array.from({ length: LANES }, () => 0);
    for (const [i, c] of clients.entries()) expected[i] = (await c.json('POST', '/inc')).count;
    let refused = 0;
    await lanes(async (lane) => {
      const c = clients[lane]!;
      const before = idOf(c);
      const answers = await burst(c, ['rotate', 'inc', 'inc', 'count']);
      const rotated = answers.find((a) => a.op === 'rotate')!;
      expect(rotated.status).toBe(200);
      let retry = 0;
      for (const a of answers) {
        if (a.op === 'rotate') continue;
        if (a.status === 409) {
          expectRotatedAnswer(a);
          refused++;
          if (a.op === 'inc') retry++;
          continue;
        }
        expect(a.status).toBe(200);
        // Served by the session before it moved: never a fresh one.
        expect(a.body.id).toBe(before);
        expect(a.setCookie).toEqual([]);
        expect(a.body.count).toBeGreaterThan(expected[lane]! - 1);
        if (a.op === 'inc') expected[lane]!++;
      }
      for (let k = 0; k < retry; k++) await c.json('POST', '/inc');
      expected[lane]! += retry;
      expect(await c.json('GET', '/count')).toEqual({ id: rotated.body.id, count: expected[lane] });
    });
    expect(t.sessions.count).toBe(LANES);
    console.log(`rotate races: ${ROUNDS} rounds, ${refused} requests answered SESSION_ROTATED`);
  });

  it('lets exactly one of two concurrent rotations win and keeps the state (30 rounds)', async () => {
    t = await startApp({ rotatedIdTtlMs: 60_000 }, { clientStartRate: false });
    const c = t.client();
    await c.json('POST', '/inc');
    for (let round = 0; round < 30; round++) {
      const before = idOf(c);
      const answers = await burst(c, ['rotate', 'rotate']);
      const won = answers.filter((a) => a.status === 200);
      expect(won).toHaveLength(1);
      expectRotatedAnswer(answers.find((a) => a.status !== 200)!);
      expect(won[0]!.body).toMatchObject({ before, count: 1 });
      expect(idOf(c)).toBe(won[0]!.body.id);
      expect(t.sessions.count).toBe(1);
    }
  });

  it('gives the requests that race a terminate one fresh process between them (1,000 rounds)', async () => {
    t = await startApp({}, { clientStartRate: false });
    const clients = Array.from({ length: LANES }, () => t!.client());
    for (const c of clients) await c.json('POST', '/inc');
    let after = 0;
    await lanes(async (lane) => {
      const c = clients[lane]!;
      const before = idOf(c);
      const answers = await burst(c, ['terminate', 'inc', 'inc', 'count']);
      const fresh = new Set<string>();
      let freshIncs = 0;
      for (const a of answers) {
        if (a.op === 'terminate') {
          expect(a.status).toBe(204);
          continue;
        }
        expect(a.status).toBe(200);
        if (a.body.id !== before) {
          fresh.add(a.body.id);
          if (a.op === 'inc') freshIncs++;
        }
      }
      // Those that came after the terminate share one fresh process, and it holds all they did.
      expect(fresh.size).toBeLessThanOrEqual(1);
      const final = await c.json('GET', '/count');
      if (fresh.size === 1) {
        after++;
        expect(final).toEqual({ id: [...fresh][0], count: freshIncs });
      } else {
        expect(final.id).not.toBe(before);
        expect(final.count).toBe(0);
      }
      await c.json('POST', '/inc'); // the next round's session holds something
    });
    expect(t.sessions.count).toBe(LANES);
    console.log(`terminate races: ${ROUNDS} rounds, ${after} with requests after the terminate`);
  });

  it('gives the requests that race an expiry one fresh process between them (1,000 rounds)', async () => {
    // Long enough that the fresh process cannot itself idle out within one burst on a busy box.
    const idleTimeoutMs = 150;
    t = await startApp({ idleTimeoutMs }, { clientStartRate: false });
    let expired = 0;
    let stalls = 0;
    await lanes(async () => {
      const c = t!.client();
      const { id } = await c.json('POST', '/inc');
      await new Promise((resolve) => setTimeout(resolve, idleTimeoutMs - 10 + Math.random() * 20));
      const t0 = performance.now();
      const answers = await burst(c, ['add', 'add', 'add']);
      // On a box stalled for longer than the idle timeout the fresh process may idle out too,
      // and a later request then rightly starts another: only a chain, never two siblings.
      const stalled = performance.now() - t0 > idleTimeoutMs;
      const old: number[] = [];
      const fresh = new Map<string, number[]>();
      for (const a of answers) {
        expect(a.status).toBe(200);
        if (a.body.id === id) old.push(a.body.count);
        else fresh.set(a.body.id, [...(fresh.get(a.body.id) ?? []), a.body.count]);
      }
      // Each increment applied once, to the old process or to the one fresh process.
      expect(old.sort()).toEqual(old.map((_, i) => i + 2));
      if (stalled) {
        stalls++;
        return;
      }
      expect(fresh.size).toBeLessThanOrEqual(1);
      for (const [freshId, counts] of fresh) {
        expect(counts.sort()).toEqual(counts.map((_, i) => i + 1));
        expect(idOf(c)).toBe(freshId);
        expired++;
      }
      if (fresh.size === 0) expect(idOf(c)).toBe(id);
    }, 25);
    expect(expired).toBeGreaterThan(0);
    expect(ROUNDS - stalls).toBeGreaterThan(100); // enough rounds judged
    console.log(
      `expiry races: ${ROUNDS} rounds, ${expired} after the expiry, ${stalls} stalled (not judged)`,
    );
  });

  it('keeps every request on the same session across crash restarts (1,000 rounds)', async () => {
    t = await startApp(
      { restart: { onCrash: true, maxRestarts: 1_000_000, withinMs: 1 } },
      { clientStartRate: false },
    );
    const clients = Array.from({ length: LANES }, () => t!.client());
    const ids = await Promise.all(clients.map(async (c) => (await c.json('POST', '/inc')).id));
    await lanes(async (lane) => {
      const c = clients[lane]!;
      const answers = await burst(c, ['boom', 'inc', 'inc', 'count']);
      for (const a of answers) {
        expect(a.setCookie).toEqual([]);
        if (a.op === 'boom') expect(a.status).toBe(500);
        else expect(a.body.id).toBe(ids[lane]);
      }
      expect((await c.json('GET', '/count')).id).toBe(ids[lane]);
    });
    expect(t.sessions.count).toBe(LANES);
    expect(t.sessions.stats().restarts).toBe(ROUNDS);
  });
});
