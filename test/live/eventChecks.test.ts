import { reply } from 'session-process';
import { attachLiveBridge, type LiveBridgeOptions, type LiveEvents } from 'session-process/live';
import { describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { z } from 'zod';
import { recordFrames as record } from '../support/index.js';
import { startLiveTestServer } from './liveTestServer.js';

/** Keeps the last `put` event it received as it arrived; `last` replies with it. */
const keeper = setup({
  types: {
    context: {} as { last: unknown; puts: number },
    events: {} as { type: 'put'; [key: string]: unknown } | { type: 'last' },
  },
}).createMachine({
  context: { last: null, puts: 0 },
  on: {
    put: {
      actions: [
        assign({ last: ({ event }) => event, puts: ({ context }) => context.puts + 1 }),
        reply(() => 'ok'),
      ],
    },
    last: { actions: reply(({ context }) => context.last) },
  },
});

const put = z.object({ sku: z.string().max(8), qty: z.number().int().min(1).max(99) });

async function viewOf(events: LiveEvents, bridge: Partial<LiveBridgeOptions> = {}) {
  const t = await startLiveTestServer(
    { events, view: (s) => ({ puts: s.context.puts }), ...bridge },
    { logic: keeper },
  );
  const { cookie, sessionId } = await t.login();
  const ws = await t.connect({ cookie, origin: t.origin });
  const rec = record(ws);
  await rec.next((m) => m.type === 'snapshot');
  const call = async (event: object, ref: string) => {
    ws.send(JSON.stringify({ type: 'call', ref, event }));
    return rec.next((m) => m.ref === ref);
  };
  return { t, ws, rec, sessionId, call };
}

describe('attachLiveBridge validated events', () => {
  it('refuses a payload that fails its schema with INVALID_EVENT; it never reaches the session', async () => {
    const { t, ws, rec, sessionId, call } = await viewOf({ put, last: true });
    expect(await call({ type: 'put', sku: 'A1', qty: 1e15 }, 'big')).toEqual({
      type: 'error',
      code: 'INVALID_EVENT',
      message: expect.stringMatching(/^qty: /),
      ref: 'big',
    });
    ws.send(JSON.stringify({ type: 'send', event: { type: 'put', sku: 'A1', qty: -1 } }));
    expect(await rec.next((m) => m.type === 'error' && m.ref === undefined)).toMatchObject({
      code: 'INVALID_EVENT',
      message: expect.stringMatching(/^qty: /),
    });
    expect(await call({ type: 'put', sku: ['A1'], qty: 2 }, 'sku')).toMatchObject({
      code: 'INVALID_EVENT',
      message: expect.stringMatching(/^sku: /),
    });
    expect(t.sessions.snapshot<{ puts: number }>(sessionId).context.puts).toBe(0);
    // The connection stays, and a valid one goes through.
    expect(await call({ type: 'put', sku: 'A1', qty: 2 }, 'ok')).toMatchObject({ type: 'reply' });
    expect(t.sessions.snapshot<{ puts: number }>(sessionId).context.puts).toBe(1);
  });

  it('gives the session what the schema outputs: unknown keys stripped, the type kept', async () => {
    const { call } = await viewOf({ put, last: true });
    await call({ type: 'put', sku: 'A1', qty: 3, isAdmin: true }, 'p');
    expect(await call({ type: 'last' }, 'l')).toEqual({
      type: 'reply',
      ref: 'l',
      value: { type: 'put', sku: 'A1', qty: 3 },
    });
  });

  it('takes a function: true accepts, false or a reason refuses', async () => {
    const { call } = await viewOf({
      put: (e) => (typeof e.qty === 'number' && e.qty < 10) || 'qty must be below 10',
      last: () => false,
    });
    expect(await call({ type: 'put', qty: 11 }, 'a')).toMatchObject({
      code: 'INVALID_EVENT',
      message: 'qty must be below 10',
    });
    expect(await call({ type: 'put', qty: 1, extra: 'kept' }, 'b')).toMatchObject({
      type: 'reply',
    });
    expect(await call({ type: 'last' }, 'c')).toMatchObject({
      code: 'INVALID_EVENT',
      message: 'Invalid last event',
    });
  });

  it('answers INTERNAL_ERROR and reports a check that throws or validates asynchronously', async () => {
    const reported: unknown[] = [];
    const { call, t, sessionId } = await viewOf(
      {
        put: () => {
          throw new Error('a bug in the check');
        },
        last: z.object({}).refine(async () => true),
      },
      { onError: (e) => reported.push(e) },
    );
    expect(await call({ type: 'put', qty: 1 }, 'a')).toMatchObject({ code: 'INTERNAL_ERROR' });
    expect(await call({ type: 'last' }, 'b')).toMatchObject({ code: 'INTERNAL_ERROR' });
    expect(reported.map((e) => (e as Error).message)).toEqual([
      'a bug in the check',
      'The schema of live event last validates asynchronously',
    ]);
    expect(t.sessions.snapshot<{ puts: number }>(sessionId).context.puts).toBe(0);
  });

  it('refuses an events entry that is not a schema, a function or true when attached', async () => {
    const t = await startLiveTestServer();
    expect(() =>
      attachLiveBridge(t.server, {
        app: t.app,
        sessions: t.sessions,
        session: t.sessionMiddleware,
        origins: [t.origin],
        path: '/other',
        events: { put: { parse: () => ({}) } as never },
      }),
    ).toThrow(/events\['put'\] must be a Standard Schema/);
  });
});
