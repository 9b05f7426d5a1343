import { reply, SessionError, type SessionErrorCode } from 'session-process';
import { attachLiveBridge } from 'session-process/live';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { assign, setup } from 'xstate';
import { recordFrames as record, withOverrides } from '../support/index.js';
import { onTestFinishedCleanup } from './afterTest.js';
import { type LiveTestServer, startLiveTestServer } from './liveTestServer.js';

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
