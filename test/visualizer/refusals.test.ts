import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { request } from 'node:http';
import {
  isVisualizerError,
  type VisualizerError,
  type VisualizerReport,
} from 'session-process/visualizer';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startVizApp, type VizApp } from './helpers.js';

let app: VizApp | undefined;
const reports: VisualizerReport[] = [];
const onReport = (r: unknown) => reports.push(r as VisualizerReport);
subscribe('session-process:visualizer-refused', onReport);

afterEach(async () => {
  reports.length = 0;
});
process.on('exit', () => unsubscribe('session-process:visualizer-refused', onReport));

/** Opens a raw upgrade to `path` and resolves with the HTTP status it is refused with. */
function refusedStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => {
      ws.close();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('error', reject);
  });
}

describe('refused upgrades and requests are reported', () => {
  it.each([
    ['origin', {}, { origin: 'https://evil.example' }, '/_sessions/feed', 403, 'origins'],
    ['host', {}, { host: 'evil.example' }, '/_sessions/feed', 403, 'allowedHosts'],
    ['authorize', { authorize: () => false }, {}, '/_sessions/feed', 403, 'authorize'],
    ['path', {}, {}, '/_sessions/other', 404, '/_sessions/feed'],
  ] as const)(
    'reports a feed refused for its %s, to onError and the channel',
    async (reason, opts, headers, path, status, hint) => {
      const errors: VisualizerError[] = [];
      app = await startVizApp({ authorize: () => true, ...opts, onError: (e) => errors.push(e) });
      const ws = `${app.url.replace('http', 'ws')}${path}`;
      expect(await refusedStatus(ws, headers)).toBe(status);
      expect(errors).toHaveLength(1);
      const err = errors[0]!;
      expect(isVisualizerError(err, 'VISUALIZER_REFUSED')).toBe(true);
      expect(err).toMatchObject({ reason, target: 'feed' });
      expect(err.message).toContain(hint);
      expect(reports).toEqual([
        expect.objectContaining({ reason, target: 'feed', code: 'VISUALIZER_REFUSED' }),
      ]);
    },
  );

  it('refuses feeds beyond maxConnections with 503, counting the ones still opening', async () => {
    const errors: VisualizerError[] = [];
    let release: () => void = () => {};
    const gate = new Promise<boolean>((resolve) => (release = () => resolve(true)));
    app = await startVizApp({
      maxConnections: 1,
      authorize: () => gate, // the first upgrade waits here, counted
      onError: (e) => errors.push(e),
    });
    const first = app.feed();
    await new Promise((r) => setTimeout(r, 50));
    expect(await refusedStatus(`${app.url.replace('http', 'ws')}/_sessions/feed`)).toBe(503);
    expect(errors.map((e) => e.reason)).toEqual(['limit']);
    release();
    await first;
  });

  it('reports a page refused by authorize and says why on the 403 page', async () => {
    const errors: VisualizerError[] = [];
    app = await startVizApp({ authorize: () => false, onError: (e) => errors.push(e) });
    const res = await fetch(`${app.url}/_sessions`);
    expect(res.status).toBe(403);
    const body = await res.text();
    expect(body).not.toBe('Forbidden');
    expect(body).toContain('authorize');
    expect(errors).toMatchObject([{ reason: 'authorize', target: 'page' }]);
  });

  it('tells a request through a proxy that the default authorize serves this machine only, and what to set', async () => {
    app = await startVizApp(); // the default authorize, isLoopback
    const res = await fetch(`${app.url}/_sessions`, {
      headers: { 'x-forwarded-for': '203.0.113.7' },
    });
    expect(res.status).toBe(403);
    const body = await res.text();
    expect(body).toContain('X-Forwarded-For');
    expect(body).toContain('isLoopback');
    expect(body).toContain('authorize');
    expect(body).toContain('app.proxy = true');
  });

  it('names app.proxy when an https page behind a proxy is refused for its origin', async () => {
    const errors: VisualizerError[] = [];
    app = await startVizApp({
      authorize: () => true,
      allowedHosts: ['admin.example'],
      onError: (e) => errors.push(e),
    });
    // The proxy forwards the browser's host in X-Forwarded-Host, but app.proxy is off, so the
    // visualizer sees its own Host (127.0.0.1): the page's origin looks foreign.
    const status = await refusedStatus(`${app.url.replace('http', 'ws')}/_sessions/feed`, {
      origin: 'https://admin.example',
      'x-forwarded-host': 'admin.example',
      'x-forwarded-proto': 'https',
    });
    expect(status).toBe(403);
    expect(errors[0]).toMatchObject({ reason: 'origin' });
    expect(errors[0]!.message).toContain('app.proxy = true');
  });

  it('accepts the page’s own origin behind a trusted proxy', async () => {
    app = await startVizApp(
      { authorize: () => true, allowedHosts: ['admin.example'] },
      { proxy: true },
    );
    const feed = await app.feed({
      origin: 'https://admin.example',
      'x-forwarded-host': 'admin.example',
      'x-forwarded-proto': 'https',
    });
    await feed.next((m) => m.type === 'hello');
  });

  it('takes origins in the live bridge’s shapes: a list, "same-origin" or a predicate', async () => {
    app = await startVizApp({ authorize: () => true, origins: ['https://ops.example'] });
    await app.feed({ origin: 'https://ops.example' });
    await expect(app.feed({ origin: 'https://evil.example' })).rejects.toMatchObject({
      status: 403,
    });
    await app.close();
    app = await startVizApp({ authorize: () => true, origins: (o) => o.endsWith('.ops.example') });
    await app.feed({ origin: 'https://eu.ops.example' });
    await app.feed({ origin: app.url });
    await expect(app.feed({ origin: 'https://evil.example' })).rejects.toMatchObject({
      status: 403,
    });
    await app.close();
    app = await startVizApp({ authorize: () => true, origins: 'same-origin' });
    await app.feed({ origin: app.url });
    await expect(app.feed({ origin: 'https://ops.example' })).rejects.toMatchObject({
      status: 403,
    });
  });
});

describe('maxConnections', () => {
  it('frees the place of a feed that closes and of a handshake that fails', async () => {
    app = await startVizApp({ maxConnections: 1, authorize: () => true });
    const url = `${app.url.replace('http', 'ws')}/_sessions/feed`;
    // A handshake ws aborts itself (no Sec-WebSocket-Key): answered 400, its place freed.
    const status = await new Promise<number>((resolve, reject) => {
      request(url.replace('ws', 'http'), {
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13' },
      })
        .on('response', (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(400);
    const feed = await app.feed();
    await feed.next((m) => m.type === 'hello');
    expect(await refusedStatus(url)).toBe(503);
    feed.close();
    await expect
      .poll(
        async () =>
          await app!.feed().then(
            () => 'open',
            () => 'refused',
          ),
      )
      .toBe('open');
  });
});

describe('onError', () => {
  it('is called with the error and an info object (source, reason), as the supervisor’s and the live bridge’s', async () => {
    const seen: [unknown, { source: string }][] = [];
    const onError = (error: unknown, info: { sessionId?: string; source: string }) =>
      seen.push([error, info]);
    app = await startVizApp({ authorize: () => false, onError });
    await fetch(`${app.url}/_sessions`);
    expect(seen).toEqual([[expect.any(Error), { source: 'refused', reason: 'authorize' }]]);
  });
});
