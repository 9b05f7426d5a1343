/**
 * The Koa apps bench/http measures (one per variant) and bench/httpLoop loops over in one process:
 * the same routes, the same body (`{"value":0}`), the same signed cookie session.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Koa from 'koa';
import session from 'koa-session';
import { createSessionSupervisor, type SessionSupervisor } from 'session-process';
import { sessionProcess } from 'session-process/koa';
import { sqliteStore } from 'session-process/sqlite';
import { createActor, emit, setup } from 'xstate';
import { counterMachine } from '../machines/counter.js';

export const KEYS = ['bench-key-0123456789abcdefghijklmnopqrstuvwxyz'];
export const BODY = '{"value":0}';
const cookieOptions = { key: 'sid', maxAge: 86_400_000, httpOnly: true, sameSite: 'lax' } as const;

export type Variant = 'baseline' | 'await' | 'middleware' | 'call' | 'raw' | 'durable' | 'live';
export const ALL: Variant[] = ['baseline', 'await', 'middleware', 'call', 'raw', 'durable', 'live'];
export const LABELS: Record<Variant, string> = {
  baseline: 'koa-session alone',
  await: '(reference) koa-session alone, the handler awaiting one resolved promise',
  middleware: '+ `sessionProcess`, no call',
  call: '+ `sessionProcess`, one `call`',
  raw: '(reference) koa-session + a raw XState actor per session, one request/reply',
  durable: 'one `call`, `durability: durable` (SQLite)',
  live: 'one `call`, live bridge + one open view per session',
};

/** What {@link createApps} builds. */
export interface BenchApps {
  apps: Record<Variant, Koa>;
  /** The live variant's supervisor and koa-session middleware, for `attachLiveBridge`. */
  liveSessions: SessionSupervisor;
  liveSession: Koa.Middleware;
  close(): Promise<void>;
}

/** One app per variant; the live one without its bridge (that needs the HTTP server). */
export function createApps(): BenchApps {
  const dir = mkdtempSync(join(tmpdir(), 'bench-http-'));
  const supervisor = (extra = {}) =>
    createSessionSupervisor({ logic: counterMachine, startRate: false, ...extra });
  // Defaults (lazy) except the per-client start limit: every connection is a browser on 127.0.0.1.
  const withSessions = (app: Koa, sessions: SessionSupervisor) => {
    const sessionMiddleware = session(cookieOptions, app);
    app.use(sessionMiddleware);
    app.use(sessionProcess(sessions, { app, clientStartRate: false }));
    return sessionMiddleware;
  };
  const oneCall = async (ctx: Koa.Context) => {
    ctx.body = { value: await ctx.sessionProcess.call<number>({ type: 'get_value' }) };
  };
  const make = () => {
    const app = new Koa();
    app.keys = KEYS;
    return app;
  };

  // koa-session alone: the session holds the counter the machine would (0, so the same body).
  const baseline = make();
  baseline.use(session(cookieOptions, baseline));
  baseline.use((ctx) => {
    ctx.session!.count ??= 0;
    ctx.body = { value: ctx.session!.count };
  });

  // The same, with a handler that awaits (as every handler that calls does): what an `await`
  // itself costs a request, apart from what is awaited.
  const awaiting = make();
  awaiting.use(session(cookieOptions, awaiting));
  awaiting.use(async (ctx) => {
    ctx.session!.count ??= 0;
    ctx.body = { value: await Promise.resolve(ctx.session!.count as number) };
  });

  const sessions = supervisor();
  // The middleware alone, answering without a call: splits the middleware's cost from the call's.
  const middleware = make();
  withSessions(middleware, sessions);
  middleware.use((ctx) => {
    // A browser's first request starts its session (lazy mode starts nothing unused).
    if (!ctx.sessionProcess.started) return oneCall(ctx);
    ctx.body = { value: 0 };
  });

  const call = make();
  withSessions(call, sessions);
  call.use(oneCall);

  // The call's floor: a raw actor per session, found by a key in the koa-session session, and
  // the fastest request/reply XState has (bench/core's raw ceiling): no supervisor at all.
  const actors = new Map<string, () => Promise<number>>();
  const raw = make();
  raw.use(session(cookieOptions, raw));
  raw.use(async (ctx) => {
    const key = (ctx.session!.rawId ??= randomBytes(24).toString('base64url')) as string;
    let caller = actors.get(key);
    if (caller === undefined) actors.set(key, (caller = rawCaller()));
    ctx.body = { value: await caller() };
  });

  const store = sqliteStore({ path: join(dir, 'sessions.db') });
  const durableSessions = supervisor({ store, durability: 'durable' });
  const durable = make();
  withSessions(durable, durableSessions);
  durable.use(oneCall);

  const liveSessions = supervisor();
  const live = make();
  const liveSession = withSessions(live, liveSessions);
  live.use(oneCall);

  return {
    apps: { baseline, await: awaiting, middleware, call, raw, durable, live },
    liveSessions,
    liveSession,
    close: async () => {
      await Promise.all([sessions, durableSessions, liveSessions].map((x) => x.shutdown()));
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The counter whose `get_value` emits its value; one promise per send, as bench/core's ceiling. */
const emittingCounter = setup({
  types: {
    context: {} as { count: number },
    events: {} as { type: 'get_value' },
    emitted: {} as { type: 'value'; value: number },
  },
}).createMachine({
  context: { count: 0 },
  on: {
    get_value: {
      actions: emit(({ context }) => ({ type: 'value' as const, value: context.count })),
    },
  },
});

function rawCaller(): () => Promise<number> {
  const actor = createActor(emittingCounter).start();
  let resolve: (value: number) => void = () => {};
  actor.on('value', (e) => resolve(e.value));
  return () =>
    new Promise<number>((r) => {
      resolve = r;
      actor.send({ type: 'get_value' });
    });
}
