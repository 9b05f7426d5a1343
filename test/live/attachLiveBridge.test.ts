import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import net from 'node:net';
import { callIdOf, reply, SessionError, type SessionErrorCode } from 'session-process';
import {
  attachLiveBridge,
  isLiveRefusedError,
  type LiveDroppedEvent,
  type LiveRefusedEvent,
  liveTelemetryChannels,
} from 'session-process/live';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { assign, setup } from 'xstate';
import {
  recordFrames as record,
  refusalClose,
  upgradeStatus as refusal,
  withOverrides,
} from '../support/index.js';
import { type LiveTestServer, startLiveTestServer } from './liveTestServer.js';

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

describe('attachLiveBridge crashes', () => {
  const crashy = setup({
    types: {
      context: {} as { count: number },
      events: {} as { type: 'add_one' } | { type: 'boom' },
    },
  }).createMachine({
    context: { count: 0 },
    on: {
      add_one: { actions: assign({ count: ({ context }) => context.count + 1 }) },
      boom: {
        actions: () => {
          throw new Error('boom');
        },
      },
    },
  });

  it('ends the views with reason crashed when the machine throws', async () => {
    const t = await startLiveTestServer(
      { events: ['add_one', 'boom'] },
      { logic: crashy, onError: () => {} },
    );
    const { cookie } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    const rec = record(ws);
    await rec.next();
    ws.send(JSON.stringify({ type: 'send', event: { type: 'boom' } }));
    expect(await rec.whenClosed()).toEqual({ code: 4001, reason: 'crashed' });
    expect(rec.messages.at(-1)).toEqual({ type: 'ended', reason: 'crashed' });
  });

  it('keeps the views of a session restarted after a crash and sends its fresh state', async () => {
    const t = await startLiveTestServer(
      { events: ['add_one', 'boom'] },
      { logic: crashy, restart: { onCrash: true }, onError: () => {} },
    );
    const { cookie } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    const rec = record(ws);
    await rec.next();
    ws.send(JSON.stringify({ type: 'send', event: { type: 'add_one' } }));
    await rec.next((m) => m.view?.count === 1);
    const from = rec.messages.length;
    ws.send(JSON.stringify({ type: 'send', event: { type: 'boom' } }));
    const fresh = await rec.next((m) => m.type === 'snapshot', from);
    expect(fresh.view).toEqual({ count: 0 });
    expect(fresh.version).toBeGreaterThan(2);
    ws.send(JSON.stringify({ type: 'send', event: { type: 'add_one' } }));
    expect(await rec.next((m) => m.view?.count === 1, from)).toMatchObject({ type: 'snapshot' });
    expect(rec.closed).toBeUndefined();
  });
});

/** Collects what is published on a diagnostics channel until the test ends. */
function collect<T>(name: string): T[] {
  const seen: T[] = [];
  const listener = (msg: unknown) => seen.push(msg as T);
  subscribe(name, listener);
  onTestFinishedCleanup(() => unsubscribe(name, listener));
  return seen;
}

const cleanups: Array<() => void> = [];
function onTestFinishedCleanup(fn: () => void): void {
  cleanups.push(fn);
}
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
  vi.useRealTimers();
});

/** Every code of the core (a compile error here when the core gains or loses one). */
const CORE_CODES = [
  'INVALID_SESSION_ID',
  'SESSION_ALREADY_STARTED',
  'SESSION_NOT_FOUND',
  'SESSION_LIMIT_REACHED',
  'RATE_LIMITED',
  'SESSION_INIT_FAILED',
  'CALL_TIMEOUT',
  'EVENT_NOT_ACCEPTED',
  'SESSION_ENDED',
  'SESSION_CRASHED',
  'UNKNOWN_LOGIC',
  'SESSION_RESTORE_FAILED',
  'STORE_UNAVAILABLE',
  'SESSION_ROTATED',
  'SESSION_VERSION_AHEAD',
  'STORE_CORRUPT',
  'RECORD_TOO_LARGE',
  'TOO_MANY_TIMERS',
] as const satisfies readonly SessionErrorCode[];
const _allCoreCodes: SessionErrorCode extends (typeof CORE_CODES)[number] ? true : never = true;
void _allCoreCodes;

/**
 * A second bridge on the test server (path `/failing`) whose supervisor answers every `call` and
 * `cast` with a core error of `code`, so each code can be checked end to end over the socket.
 */
function failingBridge(t: LiveTestServer, code: SessionErrorCode): string {
  const error = new SessionError(code, `core says ${code}`);
  const sessions = withOverrides(t.sessions, {
    call: () => Promise.reject(error),
    cast: () => {
      throw error;
    },
  });
  const bridge = attachLiveBridge(t.server, {
    app: t.app,
    sessions,
    session: t.sessionMiddleware,
    origins: [t.origin],
    path: '/failing',
    events: ['get_value'],
    onError: () => {},
  });
  onTestFinishedCleanup(() => void bridge.close());
  return t.url.replace('/live', '/failing');
}

describe('attachLiveBridge error codes', () => {
  it.each(CORE_CODES)(
    'passes the core code %s through, exactly, for a call and for a send',
    async (code) => {
      const t = await startLiveTestServer();
      const { cookie } = await t.login();
      const ws = new WebSocket(failingBridge(t, code), { headers: { cookie, origin: t.origin } });
      const rec = record(ws);
      await rec.next((m) => m.type === 'snapshot');
      ws.send(JSON.stringify({ type: 'call', ref: 'c', event: { type: 'get_value' } }));
      ws.send(JSON.stringify({ type: 'send', event: { type: 'get_value' } }));
      await rec.next(() => rec.messages.filter((m) => m.type === 'error').length === 2);
      const errors = rec.messages.filter((m) => m.type === 'error');
      // The send's error comes first: the call's waits for the rejected promise.
      expect(errors.map((e) => [e.ref ?? null, e.code])).toEqual([
        [null, code],
        ['c', code],
      ]);
      // A message the core does not expose stays on the server.
      const exposed = new SessionError(code, 'x').expose;
      expect(errors[1].message).toBe(
        exposed ? `core says ${code}` : 'The session failed to handle the event',
      );
      ws.terminate();
    },
  );

  const crashy = setup({
    types: { events: {} as { type: 'boom' } | { type: 'get_value' } | { type: 'big' } },
  }).createMachine({
    on: {
      boom: {
        actions: () => {
          throw new Error('boom');
        },
      },
      get_value: { actions: reply(() => 1) },
      big: { actions: reply(() => 10n) },
    },
  });

  // The same codes from the real core and the bridge's own, each from the case that causes it.
  it.each([
    ['EVENT_NOT_ACCEPTED', { type: 'call', ref: 'c', event: { type: 'nothing.here' } }],
    ['CALL_TIMEOUT', { type: 'call', ref: 'c', event: { type: 'add_one' }, timeoutMs: 50 }],
    ['SESSION_CRASHED', { type: 'call', ref: 'c', event: { type: 'boom' } }],
    ['EVENT_NOT_ALLOWED', { type: 'call', ref: 'c', event: { type: 'not.listed' } }],
    ['BAD_MESSAGE', { type: 'call', ref: 'c', event: { type: '' } }],
    ['INTERNAL_ERROR', { type: 'call', ref: 'c', event: { type: 'big' } }],
  ] as const)(
    'answers a call with %s when the machine or the bridge says so',
    async (code, frame) => {
      const logic = code === 'SESSION_CRASHED' || code === 'INTERNAL_ERROR' ? crashy : undefined;
      const t = await startLiveTestServer(
        { events: ['nothing.here', 'add_one', 'boom', 'big', 'get_value'] },
        logic ? { logic, restart: { onCrash: true }, onError: () => {} } : {},
      );
      const { cookie } = await t.login();
      const ws = await t.connect({ cookie, origin: t.origin });
      const rec = record(ws);
      await rec.next((m) => m.type === 'snapshot');
      ws.send(JSON.stringify(frame));
      const answer = await rec.next((m) => m.type === 'error' || m.type === 'reply');
      expect(answer).toMatchObject({ type: 'error', ref: 'c', code });
    },
  );

  it('answers TOO_MANY_CALLS past maxPendingCalls', async () => {
    const t = await startLiveTestServer({ maxPendingCalls: 2 });
    const { cookie } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    const rec = record(ws);
    await rec.next((m) => m.type === 'snapshot');
    // add_one is accepted and never answered: each call waits until its timeout.
    for (const ref of ['a', 'b', 'c']) {
      ws.send(JSON.stringify({ type: 'call', ref, event: { type: 'add_one' }, timeoutMs: 2_000 }));
    }
    expect(await rec.next((m) => m.type === 'error')).toMatchObject({
      ref: 'c',
      code: 'TOO_MANY_CALLS',
    });
  });
});

describe('attachLiveBridge refusals', () => {
  it('reports every refused upgrade with its reason to onError and the live-refused channel', async () => {
    const published = collect<LiveRefusedEvent>(String(liveTelemetryChannels.refused.name));
    const reported: Array<[unknown, { reason?: string; sessionId?: string }]> = [];
    const t = await startLiveTestServer({
      maxViewsPerSession: 1,
      onError: (error, info) => reported.push([error, info]),
    });
    const { cookie, sessionId } = await t.login();
    await t.connect({ cookie, origin: t.origin });
    expect(await refusal(t.url, { cookie, origin: 'http://evil.example' })).toBe(403);
    expect(await refusal(t.url, { cookie: 'sid=forged', origin: t.origin })).toBe(401);
    expect(await refusal(t.url.replace('/live', '/elsewhere'), { cookie, origin: t.origin })).toBe(
      404,
    );
    expect(await refusal(t.url, { cookie, origin: t.origin })).toBe(429);
    expect(published.map((e) => [e.reason, e.code, e.status])).toEqual([
      ['origin', 'FORBIDDEN', 403],
      ['cookie', 'UNAUTHORIZED', 401],
      ['path', 'NOT_FOUND', 404],
      ['limit', 'TOO_MANY_VIEWS', 429],
    ]);
    expect(published[0]!.origin).toBe('http://evil.example');
    expect(published[3]!.sessionId).toBe(sessionId);
    expect(reported.map(([e, info]) => [isLiveRefusedError(e) && e.reason, info.reason])).toEqual([
      ['origin', 'origin'],
      ['cookie', 'cookie'],
      ['path', 'path'],
      ['limit', 'limit'],
    ]);
    expect(String((reported[0]![0] as Error).message)).toContain('origins');
    expect(t.live.stats().refused).toBe(4);
  });

  // A browser's WebSocket sees 1006 for any refused handshake: a client that speaks the protocol
  // gets the handshake and a close code naming the refusal instead, and nothing else.
  it.each([
    ['UNAUTHORIZED', 4401, 'no cookie'],
    ['UNAUTHORIZED', 4401, 'an ended session'],
    ['FORBIDDEN', 4403, 'a foreign Origin'],
    ['NOT_FOUND', 4404, 'another path'],
    ['TOO_MANY_VIEWS', 4429, 'one view too many'],
  ] as const)(
    'closes with %s (%i) for %s when the client offers the subprotocol',
    async (name, code, what) => {
      const t = await startLiveTestServer({ maxViewsPerSession: 1 });
      const { cookie, sessionId } = await t.login();
      let url = t.url;
      let headers: Record<string, string> = { cookie, origin: t.origin };
      if (what === 'no cookie') headers = { origin: t.origin };
      if (what === 'an ended session') await t.sessions.terminate(sessionId);
      if (what === 'a foreign Origin') headers = { cookie, origin: 'http://evil.example' };
      if (what === 'another path') url = url.replace('/live', '/elsewhere');
      if (what === 'one view too many') await t.connect(headers);
      expect(await refusalClose(url, headers)).toEqual({ code, reason: name });
      await vi.waitFor(() => expect(t.live.stats().upgrading).toBe(0));
    },
  );

  it('logs refusals by default with console.warn, one per reason a minute', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const t = await startLiveTestServer({ onError: undefined as never });
      for (let i = 0; i < 3; i++) {
        expect(await refusal(t.url, { origin: 'http://evil.example' })).toBe(403);
      }
      expect(await refusal(t.url, { origin: t.origin })).toBe(401);
      expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
        expect.stringContaining('(origin)'),
        expect.stringContaining('(cookie)'),
      ]);
    } finally {
      warn.mockRestore();
    }
  });
});

describe('attachLiveBridge limits', () => {
  it('lets one cookie open maxViewsPerSession views, not more, while another session still connects', async () => {
    const t = await startLiveTestServer({ maxViewsPerSession: 3 });
    const a = await t.login();
    const b = await t.login();
    // Ten upgrades of one cookie at once: those still being authenticated count too.
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => t.connect({ cookie: a.cookie, origin: t.origin })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(t.live.viewsOf(a.sessionId)).toBe(3);
    expect(await refusal(t.url, { cookie: a.cookie, origin: t.origin })).toBe(429);
    const other = record(await t.connect({ cookie: b.cookie, origin: t.origin }));
    expect(await other.next()).toMatchObject({ type: 'snapshot' });
    // A closed view frees its place.
    const first = results.find(
      (r) => r.status === 'fulfilled',
    ) as PromiseFulfilledResult<WebSocket>;
    first.value.close();
    await vi.waitFor(() => expect(t.live.viewsOf(a.sessionId)).toBe(2));
    expect(
      await record(await t.connect({ cookie: a.cookie, origin: t.origin })).next(),
    ).toMatchObject({ type: 'snapshot' });
    expect(t.live.stats().upgrading).toBe(0);
  });

  it('answers 503 past maxConnections, counting upgrades still being authenticated', async () => {
    const published = collect<LiveRefusedEvent>(String(liveTelemetryChannels.refused.name));
    // A session middleware held at a gate: the upgrades wait in authentication.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let t!: LiveTestServer;
    t = await startLiveTestServer({
      maxConnections: 2,
      session: async (ctx, next) => {
        await gate;
        return t.sessionMiddleware(ctx, next);
      },
    });
    const a = await t.login();
    const b = await t.login();
    const c = await t.login();
    const pending = [a, b].map((s) => t.connect({ cookie: s.cookie, origin: t.origin }));
    await vi.waitFor(() => expect(t.live.stats().upgrading).toBe(2));
    const res = await new Promise<{ status: number; retryAfter: string | undefined }>((resolve) => {
      const ws = new WebSocket(t.url, { headers: { cookie: c.cookie, origin: t.origin } });
      ws.on('unexpected-response', (_req, r) => {
        resolve({ status: r.statusCode ?? 0, retryAfter: r.headers['retry-after'] });
        r.resume();
        ws.terminate();
      });
      ws.on('error', () => {});
    });
    expect(res).toEqual({ status: 503, retryAfter: '5' });
    expect(published.map((e) => [e.reason, e.code])).toEqual([['limit', 'SERVER_BUSY']]);
    open();
    await Promise.all(pending);
    expect(t.live.clients).toBe(2);
    expect(t.live.stats().upgrading).toBe(0);
    expect(await refusal(t.url, { cookie: c.cookie, origin: t.origin })).toBe(503);
  });

  it('answers upgrades still being authenticated with 503 on close()', async () => {
    const gate = new Promise<void>(() => {}); // a session store that never answers
    let t!: LiveTestServer;
    t = await startLiveTestServer({
      session: async (ctx, next) => {
        await gate;
        return t.sessionMiddleware(ctx, next);
      },
    });
    const { cookie } = await t.login();
    const status = refusal(t.url, { cookie, origin: t.origin });
    await vi.waitFor(() => expect(t.live.stats().upgrading).toBe(1));
    await t.live.close();
    expect(await status).toBe(503);
    await vi.waitFor(() => expect(t.live.stats().upgrading).toBe(0));
  });

  it('answers 503 and reports it when the supervisor cannot tell whether the session exists', async () => {
    const reported: unknown[] = [];
    const t = await startLiveTestServer();
    const { cookie } = await t.login();
    const down = new SessionError('STORE_UNAVAILABLE', 'the store is down');
    const sessions = withOverrides(t.sessions, { restore: () => Promise.reject(down) });
    const bridge = attachLiveBridge(t.server, {
      app: t.app,
      sessions,
      session: t.sessionMiddleware,
      origins: [t.origin],
      path: '/down',
      onError: (e) => reported.push(e),
    });
    try {
      expect(await refusal(t.url.replace('/live', '/down'), { cookie, origin: t.origin })).toBe(
        503,
      );
      expect(reported).toEqual([down]);
    } finally {
      await bridge.close();
    }
  });

  it('stops counting an upgrade whose peer went away once its authentication ends', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let t!: LiveTestServer;
    t = await startLiveTestServer({
      maxConnections: 1,
      session: async (ctx, next) => {
        await gate;
        return t.sessionMiddleware(ctx, next);
      },
    });
    const { cookie } = await t.login();
    const ws = new WebSocket(t.url, { headers: { cookie, origin: t.origin } });
    ws.on('error', () => {});
    await vi.waitFor(() => expect(t.live.stats().upgrading).toBe(1));
    ws.terminate();
    // The socket holds its descriptor until the server reads again (after the cookie check).
    open();
    await vi.waitFor(() => expect(t.live.stats().upgrading).toBe(0));
    expect(await record(await t.connect({ cookie, origin: t.origin })).next()).toMatchObject({
      type: 'snapshot',
    });
  });
});

// The heartbeat is the subject here: its interval is faked (sockets and I/O stay real).
describe('attachLiveBridge slow and dead peers', () => {
  const HEARTBEAT_MS = 30_000;

  /** A round trip on `ws`: once it returns, the server has read everything the peer sent before. */
  async function roundTrip(ws: WebSocket, ref: string): Promise<void> {
    const rec = record(ws);
    ws.send(JSON.stringify({ type: 'call', ref, event: { type: 'get_value' } }));
    await rec.next((m) => m.type === 'reply' && m.ref === ref);
  }

  it('closes a peer that stops answering pings within two heartbeats, and keeps the others', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const drops = collect<LiveDroppedEvent>(String(liveTelemetryChannels.dropped.name));
    const t = await startLiveTestServer({ heartbeatMs: HEARTBEAT_MS });
    const { cookie, sessionId } = await t.login();
    // autoPong off: the client never answers pings, as a peer behind a dead link.
    const dead = await t.connect({ cookie, origin: t.origin }, { autoPong: false });
    const alive = await t.connect({ cookie, origin: t.origin });
    const deadPinged = new Promise((resolve) => dead.once('ping', resolve));
    const alivePinged = new Promise((resolve) => alive.once('ping', resolve));
    vi.advanceTimersByTime(HEARTBEAT_MS);
    await Promise.all([deadPinged, alivePinged]);
    await roundTrip(alive, 'after-ping'); // its pong has reached the server
    expect(dead.readyState).toBe(WebSocket.OPEN);
    vi.advanceTimersByTime(HEARTBEAT_MS);
    expect((await record(dead).whenClosed()).code).toBe(1006);
    expect(drops).toEqual([{ sessionId, reason: 'heartbeat' }]);
    await roundTrip(alive, 'still-here');
    expect(alive.readyState).toBe(WebSocket.OPEN);
    await vi.waitFor(() => expect(t.live.clients).toBe(1));
  });

  it('holds one waiting snapshot for a peer that never reads and closes it within two heartbeats', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const drops = collect<LiveDroppedEvent>(String(liveTelemetryChannels.dropped.name));
    const pad = 'x'.repeat(16_384);
    const highWaterMarkBytes = 32_768;
    const t = await startLiveTestServer({
      heartbeatMs: HEARTBEAT_MS,
      highWaterMarkBytes,
      view: (s) => ({ count: s.context.count, pad }),
    });
    const { cookie, sessionId } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    await record(ws).next();
    ws.pause(); // reads nothing from now on: neither frames nor pings
    let maxBuffered = 0;
    for (let i = 0; i < 2_000; i++) {
      t.sessions.cast(sessionId, { type: 'add_one' });
      if (i % 50 === 0) {
        await new Promise((r) => setImmediate(r));
        maxBuffered = Math.max(maxBuffered, t.live.stats().bufferedBytes);
      }
    }
    expect(maxBuffered).toBeLessThanOrEqual(highWaterMarkBytes + 2 * (pad.length + 200));
    // Meanwhile another session's view is served as usual.
    const other = await t.login();
    const otherWs = await t.connect({ cookie: other.cookie, origin: t.origin });
    await roundTrip(otherWs, 'served');
    vi.advanceTimersByTime(HEARTBEAT_MS);
    await new Promise((r) => setImmediate(r));
    await roundTrip(otherWs, 'after-first-tick'); // its pong is in
    expect(t.live.clients).toBe(2);
    vi.advanceTimersByTime(HEARTBEAT_MS);
    await vi.waitFor(() => expect(t.live.clients).toBe(1));
    expect(t.live.viewsOf(sessionId)).toBe(0);
    expect(drops).toEqual([{ sessionId, reason: 'heartbeat' }]);
    expect(t.sessions.started(sessionId)).toBe(true);
    await roundTrip(otherWs, 'still-served');
  });

  it('drops a peer that keeps sending but never reads, past maxBufferedBytes', async () => {
    const drops = collect<LiveDroppedEvent>(String(liveTelemetryChannels.dropped.name));
    const t = await startLiveTestServer({ maxBufferedBytes: 65_536 });
    const { cookie, sessionId } = await t.login();
    const ws = await t.connect({ cookie, origin: t.origin });
    await record(ws).next();
    ws.pause();
    for (let i = 0; i < 200 && t.live.clients > 0; i++) {
      for (let j = 0; j < 500; j++) ws.send('x');
      await new Promise((r) => setTimeout(r, 5));
    }
    await vi.waitFor(() => expect(t.live.clients).toBe(0), { timeout: 5_000 });
    expect(drops).toEqual([{ sessionId, reason: 'buffer' }]);
  });
});
