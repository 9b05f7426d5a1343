import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { IncomingMessage } from 'node:http';
import net from 'node:net';
import { type LiveRefusedEvent, liveTelemetryChannels, upgradeContext } from 'session-process/live';
import { describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { connectWs, recordFrames as record, refusalClose } from '../support/index.js';
import { type LiveTestServer, startLiveTestServer } from './liveTestServer.js';

/** Another loopback address: the kernel lets a client bind any of 127.0.0.0/8. */
const OTHER = { localAddress: '127.0.0.2' };

/** The outcome of one upgrade: the open socket, or the HTTP status (0: the connection was cut). */
async function tryUpgrade(
  url: string,
  headers: Record<string, string>,
  options: { localAddress?: string } = {},
): Promise<WebSocket | number> {
  return connectWs(url, headers, options).catch((err: { status?: number }) => err.status ?? 0);
}

/** The cookie header a page load would give a browser whose session is `sessionId` (signed by the app). */
async function signedCookie(t: LiveTestServer, sessionId: string): Promise<string> {
  const ctx = upgradeContext(t.app, new IncomingMessage(new net.Socket()));
  await t.sessionMiddleware(ctx, async () => {
    ctx.session!.sessionId = sessionId;
  });
  const set = ctx.response.headers['set-cookie'] as string[];
  return set.map((c) => c.split(';')[0]).join('; ');
}

describe('attachLiveBridge budgets per client', () => {
  it('keeps one address with 1,000 cookies from taking the bridge from another address', async () => {
    const t = await startLiveTestServer({ maxConnections: 200, maxViewsPerClient: 50 });
    const cookies: string[] = [];
    for (let i = 0; i < 1_000; i++) {
      const id = `many-${i}`;
      await t.sessions.start(id);
      cookies.push(await signedCookie(t, id));
    }
    const outcomes: (WebSocket | number)[] = [];
    for (let i = 0; i < cookies.length; i += 100) {
      outcomes.push(
        ...(await Promise.all(
          cookies
            .slice(i, i + 100)
            .map((cookie) => tryUpgrade(t.url, { cookie, origin: t.origin })),
        )),
      );
    }
    const opened = outcomes.filter((o) => typeof o !== 'number');
    expect(opened).toHaveLength(50);
    // Refused with 429, or, while many of its connections have not sent their head yet, cut.
    expect(outcomes.filter((o) => o === 429 || o === 0)).toHaveLength(950);
    expect(outcomes.filter((o) => o === 429).length).toBeGreaterThan(0);
    expect(t.live.clients).toBe(50);

    // Another address, one session: served.
    const other = await t.login();
    const ws = await connectWs(t.url, { cookie: other.cookie, origin: t.origin }, OTHER);
    expect(await record(ws).next()).toMatchObject({ type: 'snapshot' });
    // A view the first address closes frees its budget.
    (opened[0] as WebSocket).close();
    await vi.waitFor(() => expect(t.live.clients).toBe(50));
    expect(await tryUpgrade(t.url, { cookie: cookies[999]!, origin: t.origin })).not.toBeTypeOf(
      'number',
    );
  });

  it('counts views by the address the proxy saw, not the leftmost X-Forwarded-For', async () => {
    const t = await startLiveTestServer({ maxViewsPerClient: 3 });
    t.app.proxy = true;
    const { cookie } = await t.login();
    const from = (i: number, seen: string) =>
      tryUpgrade(t.url, { cookie, origin: t.origin, 'x-forwarded-for': `10.1.${i}.1, ${seen}` });
    const outcomes = await Promise.all([1, 2, 3, 4, 5].map((i) => from(i, '198.51.100.4')));
    expect(outcomes.filter((o) => typeof o !== 'number')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 429)).toHaveLength(2);
    expect(await from(6, '198.51.100.5')).not.toBeTypeOf('number');
    // A client of the protocol (connectLive) learns it from the close code, and retries later.
    expect(
      await refusalClose(t.url, {
        cookie,
        origin: t.origin,
        'x-forwarded-for': '198.51.100.4',
      }),
    ).toEqual({ code: 4429, reason: 'TOO_MANY_VIEWS' });
    // The addresses of one IPv6 /64 are one client.
    const v6 = await Promise.all([1, 2, 3, 4, 5].map((i) => from(i, `2001:db8:9:9:${i}::${i}`)));
    expect(v6.filter((o) => typeof o !== 'number')).toHaveLength(3);
    expect(v6.filter((o) => o === 429)).toHaveLength(2);
  });

  it('times out half-sent upgrades and counts them against their address meanwhile', async () => {
    const t = await startLiveTestServer({ maxViewsPerClient: 5, headersTimeoutMs: 1_000 });
    const a = await t.login();
    const b = await t.login();
    const port = new URL(t.url).port;
    // Five connections that send half a `GET /live` head and then nothing (a slowloris).
    const halves = await Promise.all(
      Array.from(
        { length: 5 },
        () =>
          new Promise<{ socket: net.Socket; answer: Promise<string> }>((resolve) => {
            const socket = net.connect(Number(port), '127.0.0.1', () => {
              socket.write(
                `GET /live HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n`,
              );
              let data = '';
              socket.on('data', (d) => {
                data += String(d);
              });
              socket.on('error', () => {});
              const answer = new Promise<string>((done) => socket.once('close', () => done(data)));
              resolve({ socket, answer });
            });
          }),
      ),
    );
    await vi.waitFor(() => expect(t.live.stats().pendingHeads).toBe(5));
    // The address is at its budget: its next connection is cut at once, whatever it carries...
    const published: LiveRefusedEvent[] = [];
    const onRefused = (e: unknown) => published.push(e as LiveRefusedEvent);
    subscribe(liveTelemetryChannels.refused.name, onRefused);
    try {
      expect(await tryUpgrade(t.url, { cookie: a.cookie, origin: t.origin })).toBe(0);
    } finally {
      unsubscribe(liveTelemetryChannels.refused.name, onRefused);
    }
    expect(published).toMatchObject([{ reason: 'limit', code: 'TOO_MANY_VIEWS', path: '' }]);
    expect(t.live.stats().refused).toBe(1);
    // ...while another address is served.
    const other = await connectWs(t.url, { cookie: b.cookie, origin: t.origin }, OTHER);
    expect(await record(other).next()).toMatchObject({ type: 'snapshot' });

    // Past the deadline each half-sent upgrade is answered 408 and closed.
    const answers = await Promise.all(halves.map((h) => h.answer));
    for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(t.live.stats()).toMatchObject({ pendingHeads: 0, timedOutHeads: 5 });
    const ws = await connectWs(t.url, { cookie: a.cookie, origin: t.origin });
    expect(await record(ws).next()).toMatchObject({ type: 'snapshot' });
  });
});
