import net from 'node:net';
import { callIdOf, reply } from 'session-process';
import { describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { assign, setup } from 'xstate';
import { recordFrames as record, upgradeStatus as refusal } from '../support/index.js';
import { startLiveTestServer } from './liveTestServer.js';

describe('attachLiveBridge upgrade', () => {
  it('accepts a valid session cookie and Origin and sends the current snapshot first', async () => {
    const t = await startLiveTestServer();
    const { cookie, sessionId } = await t.login();
    t.sessions.cast(sessionId, { type: 'add_one' });
    const ws = await t.connect({ cookie, origin: t.origin });
    const rec = record(ws);
    const first = await rec.next();
    expect(first).toEqual({ type: 'snapshot', version: 2, value: {}, view: { count: 1 } });
    expect(t.live.clients).toBe(1);
    expect(t.live.viewsOf(sessionId)).toBe(1);
  });

  it('selects the versioned subprotocol when the client offers it', async () => {
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    const ws = new WebSocket(t.url, ['session-process.v1'], {
      headers: { cookie, origin: t.origin },
    });
    await new Promise((resolve) => ws.once('open', resolve));
    expect(ws.protocol).toBe('session-process.v1');
    ws.terminate();
  });

  it('refuses a client that offers only other subprotocols with 400', async () => {
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    const status = await refusal(t.url, {
      cookie,
      origin: t.origin,
      'sec-websocket-protocol': 'session-process.v2',
    });
    expect(status).toBe(400);
  });

  it('refuses a tampered cookie with 401', async () => {
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    // Change the session payload but keep the old signature.
    const tampered = cookie.replace(/sid=([^;]+)/, (_m, v: string) => {
      const data = JSON.parse(Buffer.from(v, 'base64').toString());
      data.sessionId = 'someone-else';
      return `sid=${Buffer.from(JSON.stringify(data)).toString('base64')}`;
    });
    expect(tampered).not.toBe(cookie);
    expect(await refusal(t.url, { cookie: tampered, origin: t.origin })).toBe(401);
  });

  it('refuses a missing cookie with 401', async () => {
    const t = await startLiveTestServer();
    expect(await refusal(t.url, { origin: t.origin })).toBe(401);
  });

  it('refuses a valid cookie whose session process has ended with 401', async () => {
    const t = await startLiveTestServer();
    const { cookie, sessionId } = await t.login();
    await t.sessions.terminate(sessionId);
    expect(await refusal(t.url, { cookie, origin: t.origin })).toBe(401);
  });

  it('refuses a foreign Origin with 403', async () => {
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    expect(await refusal(t.url, { cookie, origin: 'http://evil.example' })).toBe(403);
    // exact comparison: same host, other port
    expect(await refusal(t.url, { cookie, origin: `${t.origin}0` })).toBe(403);
  });

  it("accepts the request's own origin with origins: 'same-origin', and nothing else", async () => {
    const t = await startLiveTestServer({ origins: 'same-origin' });
    const { cookie } = await t.login();
    expect(await record(await t.connect({ cookie, origin: t.origin })).next()).toMatchObject({
      type: 'snapshot',
    });
    expect(await refusal(t.url, { cookie, origin: 'http://evil.example' })).toBe(403);
    expect(await refusal(t.url, { cookie, origin: t.origin.replace('http:', 'https:') })).toBe(403);
  });

  it('refuses an upgrade without Origin with 403', async () => {
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    expect(await refusal(t.url, { cookie })).toBe(403);
  });

  it('answers an upgrade to another path with 404', async () => {
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    expect(
      await refusal(`${t.baseUrl.replace('http', 'ws')}/elsewhere`, { cookie, origin: t.origin }),
    ).toBe(404);
  });

  it('survives a peer that resets during authentication and garbage upgrades', async () => {
    const t = await startLiveTestServer();
    const port = (t.server.address() as net.AddressInfo).port;
    // A raw upgrade request that is cut off at once, and one with a broken key.
    for (const key of ['dGhlIHNhbXBsZSBub25jZQ==', 'not-a-key']) {
      const s = net.connect(port, '127.0.0.1');
      await new Promise((resolve) => s.once('connect', resolve));
      s.write(
        `GET /live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: ${t.origin}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`,
      );
      s.resetAndDestroy();
    }
    const { cookie } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    expect(await record(ws).next()).toMatchObject({ type: 'snapshot' });
  });
});

describe('attachLiveBridge messages', () => {
  it('casts a listed event and every view of the session gets the new snapshot', async () => {
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    const a = record(await t.connect({ cookie, origin: t.origin }));
    const bWs = await t.connect({ cookie, origin: t.origin });
    const b = record(bWs);
    await a.next();
    await b.next();
    bWs.send(JSON.stringify({ type: 'send', event: { type: 'add_one' } }));
    expect(await a.next((m) => m.view?.count === 1)).toMatchObject({
      type: 'snapshot',
      version: 2,
    });
    expect(await b.next((m) => m.view?.count === 1)).toMatchObject({
      type: 'snapshot',
      version: 2,
    });
  });

  it('answers a call with a reply carrying its ref', async () => {
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    const rec = record(ws);
    ws.send(JSON.stringify({ type: 'call', ref: 'r1', event: { type: 'get_value' } }));
    expect(await rec.next((m) => m.type === 'reply')).toEqual({
      type: 'reply',
      ref: 'r1',
      value: 0,
    });
  });

  it('refuses a non-listed event with EVENT_NOT_ALLOWED and keeps the connection', async () => {
    const t = await startLiveTestServer({ events: ['get_value'] });
    const { cookie, sessionId } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    const rec = record(ws);
    ws.send(JSON.stringify({ type: 'send', event: { type: 'add_one' } }));
    expect(await rec.next((m) => m.type === 'error')).toMatchObject({ code: 'EVENT_NOT_ALLOWED' });
    ws.send(JSON.stringify({ type: 'call', ref: 'x', event: { type: 'xstate.stop' } }));
    expect(await rec.next((m) => m.type === 'error' && m.ref === 'x')).toMatchObject({
      code: 'EVENT_NOT_ALLOWED',
    });
    expect(t.sessions.snapshot(sessionId).context.count).toBe(0);
    ws.send(JSON.stringify({ type: 'call', ref: 'ok', event: { type: 'get_value' } }));
    expect(await rec.next((m) => m.type === 'reply')).toEqual({
      type: 'reply',
      ref: 'ok',
      value: 0,
    });
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  it('answers malformed frames with BAD_MESSAGE and keeps the connection', async () => {
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    const rec = record(ws);
    const frames = [
      'not json',
      '[]',
      'null',
      '{"type":"send"}',
      '{"type":"send","event":{"type":""}}',
      '{"type":"send","event":{"type":42}}',
      '{"type":"call","event":{"type":"get_value"}}',
      '{"type":"call","ref":"b","event":{"type":"get_value"},"timeoutMs":-1}',
      '{"type":"nope"}',
    ];
    for (const f of frames) ws.send(f);
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await rec.next(
      () => rec.messages.filter((x) => x.type === 'error').length === frames.length + 1,
    );
    const errors = rec.messages.filter((m) => m.type === 'error');
    expect(errors.every((e) => e.code === 'BAD_MESSAGE')).toBe(true);
    expect(errors.find((e) => e.ref === 'b')).toBeDefined();
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  it('closes with 1009 on a frame larger than maxPayloadBytes, and the server keeps serving', async () => {
    const t = await startLiveTestServer({ maxPayloadBytes: 1024 });
    const { cookie } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    const rec = record(ws);
    ws.send(JSON.stringify({ type: 'send', event: { type: 'add_one', pad: 'x'.repeat(2048) } }));
    expect((await rec.whenClosed()).code).toBe(1009);
    const again = record(await t.connect({ cookie, origin: t.origin }));
    expect(await again.next()).toMatchObject({ type: 'snapshot' });
  });

  // Two views of one session: one calls an event the machine answers later, the other copies
  // that call's ID from the snapshot (the machine keeps it in context, the view shows it) into an
  // event of its own. The core keeps correlation out of event payloads, so the forged event
  // answers nothing.
  it('does not let one view answer another view’s waiting call with a forged call ID', async () => {
    const jobs = setup({
      types: {
        context: {} as { waiting: unknown },
        events: {} as
          | { type: 'job.start' }
          | { type: 'job.finish' }
          | { type: 'echo'; value: unknown },
      },
    }).createMachine({
      context: { waiting: null },
      on: {
        'job.start': { actions: assign({ waiting: ({ event }) => callIdOf(event) ?? null }) },
        'job.finish': {
          actions: [
            reply('real', { to: ({ context }) => context.waiting as string }),
            assign({ waiting: null }),
          ],
        },
        echo: { actions: reply(({ event }) => event.value) },
      },
    });
    const t = await startLiveTestServer(
      { events: ['job.start', 'echo'], view: (s) => ({ waiting: s.context.waiting }) },
      { logic: jobs },
    );
    const { cookie, sessionId } = await t.login();
    const callerWs = await t.connect({ cookie, origin: t.origin });
    const forgerWs = await t.connect({ cookie, origin: t.origin });
    const caller = record(callerWs);
    const forger = record(forgerWs);
    callerWs.send(
      JSON.stringify({ type: 'call', ref: 'job', event: { type: 'job.start' }, timeoutMs: 5_000 }),
    );
    const seen = await forger.next((m) => m.type === 'snapshot' && m.view.waiting !== null);
    const callId = seen.view.waiting;
    expect(callId).toBeDefined();
    // Every way a view can put it into an event: a send, and a call (whose own ID the core sets).
    const forged = { type: 'echo', value: 'forged', $callId: callId };
    forgerWs.send(JSON.stringify({ type: 'send', event: forged }));
    forgerWs.send(JSON.stringify({ type: 'call', ref: 'f', event: forged }));
    // The forged events have been handled once the forger's own call is answered.
    expect(await forger.next((m) => m.type === 'reply' && m.ref === 'f')).toMatchObject({
      value: 'forged',
    });
    expect(caller.messages.filter((m) => m.type === 'reply')).toEqual([]);
    t.sessions.cast(sessionId, { type: 'job.finish' });
    expect(await caller.next((m) => m.type === 'reply')).toEqual({
      type: 'reply',
      ref: 'job',
      value: 'real',
    });
  });
});

describe('attachLiveBridge session end', () => {
  it('sends ended then closes with 4001 when the session is terminated', async () => {
    const t = await startLiveTestServer();
    const { cookie, sessionId } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    const rec = record(ws);
    await rec.next();
    await t.sessions.terminate(sessionId);
    const closed = await rec.whenClosed();
    expect(rec.messages.at(-1)).toEqual({ type: 'ended', reason: 'terminated' });
    expect(closed).toEqual({ code: 4001, reason: 'terminated' });
    await vi.waitFor(() => expect(t.live.clients).toBe(0));
    expect(t.live.sessions).toBe(0);
  });

  it('ends the views of a rotated session with reason rotated', async () => {
    const t = await startLiveTestServer();
    const { cookie, sessionId } = await t.login();
    const rec = record(await t.connect({ cookie, origin: t.origin }));
    await rec.next();
    await t.sessions.rename(sessionId, `${sessionId}r`);
    expect(await rec.whenClosed()).toEqual({ code: 4001, reason: 'rotated' });
    expect(rec.messages.at(-1)).toEqual({ type: 'ended', reason: 'rotated' });
    // The old cookie names an ID that reaches nothing now: 409 SESSION_ROTATED (retry: the
    // browser holds the new ID by then), never the rotated session.
    expect(await refusal(t.url, { cookie, origin: t.origin })).toBe(409);
  });

  it('ends views with reason expired when the session idles out', async () => {
    const t = await startLiveTestServer({}, { idleTimeoutMs: 100, subscribersKeepAlive: false });
    const { cookie } = await t.login();
    const rec = record(await t.connect({ cookie, origin: t.origin }));
    expect(await rec.whenClosed()).toEqual({ code: 4001, reason: 'expired' });
    expect(rec.messages.at(-1)).toEqual({ type: 'ended', reason: 'expired' });
  });

  it('closes every view with 1001 on close()', async () => {
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    const rec = record(await t.connect({ cookie, origin: t.origin }));
    await rec.next();
    await t.live.close();
    expect((await rec.whenClosed()).code).toBe(1001);
    expect(t.live.clients).toBe(0);
  });
});

describe('attachLiveBridge backpressure', () => {
  it('keeps a slow reader to one waiting snapshot and sends the newest once it drains', async () => {
    const pad = 'x'.repeat(16_384);
    const highWaterMarkBytes = 32_768;
    const t = await startLiveTestServer({
      highWaterMarkBytes,
      view: (s) => ({ count: s.context.count, pad }),
    });
    const { cookie, sessionId } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    const rec = record(ws);
    await rec.next();
    // The reader stops reading: the kernel buffers fill, then the server's socket would grow.
    ws.pause();
    const casts = 3_000; // about 50 MB of snapshots if every one were queued
    let maxBuffered = 0;
    for (let i = 0; i < casts; i++) {
      t.sessions.cast(sessionId, { type: 'add_one' });
      if (i % 50 === 0) {
        await new Promise((r) => setImmediate(r));
        maxBuffered = Math.max(maxBuffered, t.live.stats().bufferedBytes);
      }
    }
    const stats = t.live.stats();
    expect(stats.supersededSnapshots).toBeGreaterThan(casts / 2);
    // At most the high-water mark plus the frame that crossed it, whatever the number of casts.
    expect(maxBuffered).toBeLessThanOrEqual(highWaterMarkBytes + 2 * (pad.length + 200));
    ws.resume();
    const last = await rec.next((m) => m.type === 'snapshot' && m.view.count === casts);
    expect(last.version).toBe(casts + 1);
    const snapshots = rec.messages.filter((m) => m.type === 'snapshot');
    expect(snapshots.length).toBeLessThan(casts / 2);
    // versions only grow
    const versions = snapshots.map((m) => m.version);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
  });
});

describe('attachLiveBridge views', () => {
  it('sends only the version and state value without a view option', async () => {
    const t = await startLiveTestServer({ view: undefined as never });
    const { cookie } = await t.login();
    const rec = record(await t.connect({ cookie, origin: t.origin }));
    expect(await rec.next()).toEqual({ type: 'snapshot', version: 1, value: {}, view: null });
  });

  it('reports a view that throws, skips that snapshot and keeps serving', async () => {
    const reported: unknown[] = [];
    const t = await startLiveTestServer({
      view: (s) => {
        if (s.context.count === 1) throw new Error('view broke');
        return { count: s.context.count };
      },
      onError: (e) => reported.push(e),
    });
    const { cookie, sessionId } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    const rec = record(ws);
    await rec.next();
    t.sessions.cast(sessionId, { type: 'add_one' });
    t.sessions.cast(sessionId, { type: 'add_one' });
    expect(await rec.next((m) => m.view?.count === 2)).toMatchObject({ version: 3 });
    expect(rec.messages.filter((m) => m.type === 'snapshot').map((m) => m.view.count)).toEqual([
      0, 2,
    ]);
    expect(reported).toHaveLength(1);
  });

  it('tells a view when its first snapshot cannot be rendered, and sends the next one', async () => {
    const t = await startLiveTestServer({
      view: (s) => {
        if (s.context.count === 0) throw new Error('view broke');
        return { count: s.context.count };
      },
    });
    const { cookie, sessionId } = await t.login();
    const rec = record(await t.connect({ cookie, origin: t.origin }));
    expect(await rec.next()).toMatchObject({ type: 'error', code: 'INTERNAL_ERROR' });
    t.sessions.cast(sessionId, { type: 'add_one' });
    expect(await rec.next((m) => m.type === 'snapshot')).toMatchObject({ view: { count: 1 } });
  });
});
