import type { Server } from 'node:http';
import type Koa from 'koa';
import { reply, type SessionSupervisor, type SupervisorOptions } from 'session-process';
import type { SessionProcessOptions } from 'session-process/koa';
import { assign, setup } from 'xstate';
import { CookieJar, startTestServer } from '../support/index.js';

export const COOKIE = 'sid';

/** A counter that can also crash (`boom`) and stop itself (`finish`, a final state). */
export const tallyMachine = setup({
  types: {
    context: {} as { count: number },
    input: {} as { start?: number } | undefined,
    events: {} as { type: 'inc' } | { type: 'get' } | { type: 'boom' } | { type: 'finish' },
  },
}).createMachine({
  id: 'tally',
  context: ({ input }) => ({ count: input?.start ?? 0 }),
  initial: 'counting',
  states: {
    counting: {
      on: {
        inc: { actions: assign({ count: ({ context }) => context.count + 1 }) },
        get: { actions: reply(({ context }) => context.count) },
        boom: {
          actions: () => {
            throw new Error('boom');
          },
        },
        finish: 'done',
      },
    },
    done: { type: 'final' },
  },
});

export interface TestApp {
  url: string;
  sessions: SessionSupervisor;
  app: Koa;
  server: Server;
  /** A new browser-like client with its own cookie jar. */
  client(): CookieJar;
  close(): Promise<void>;
}

/**
 * The kit's server (koa-session 7, closed after the test) with `sessionProcess` on the tally
 * machine. Routes: `GET /id`, `GET /count`, `POST /inc` (a cast, then a call), `POST /add` (one
 * call), `POST /cast` (a cast, 204), `GET /slow?ms=` (a call, then a wait), `GET /static` (does not
 * touch the process), `POST /rotate`, `POST /logout` (`ctx.session = null`), `POST /terminate`,
 * `POST /boom`, `POST /finish`, `POST /fail` (uses the process, then throws).
 */
export async function startApp(
  supervisor: SupervisorOptions = {},
  middleware: SessionProcessOptions = {},
  koaSession: Record<string, unknown> = {},
): Promise<TestApp> {
  const t = await startTestServer({
    supervisor: { logic: tallyMachine, ...supervisor },
    cookie: { key: COOKIE, maxAge: 60_000, httpOnly: true, ...koaSession },
    koa: middleware,
    routes: (app) => app.use(tallyRoutes),
  });
  return {
    url: t.url,
    sessions: t.sessions,
    app: t.app,
    server: t.server,
    client: () => new CookieJar(t.url),
    close: () => t.close(),
  };
}

async function tallyRoutes(ctx: Koa.Context): Promise<void> {
  const sp = ctx.sessionProcess;
  const route = `${ctx.method} ${ctx.path}`;
  switch (route) {
    case 'GET /id':
      ctx.body = { id: sp.id };
      return;
    case 'GET /count':
      ctx.body = { id: sp.id, count: await sp.call({ type: 'get' }) };
      return;
    case 'POST /inc':
      sp.cast({ type: 'inc' });
      ctx.body = { id: sp.id, count: await sp.call({ type: 'get' }) };
      return;
    case 'POST /add': {
      // One step: the increment and the count it led to, from the same process.
      const snap = await sp.call<{ context: { count: number } }>(
        { type: 'inc' },
        { until: () => true },
      );
      ctx.body = { id: sp.id, count: snap.context.count };
      return;
    }
    case 'POST /cast':
      sp.cast({ type: 'inc' });
      ctx.status = 204;
      return;
    case 'GET /slow':
      // Reads the process, then takes a while (another tab acts meanwhile).
      ctx.body = { id: sp.id, count: await sp.call({ type: 'get' }) };
      await new Promise((resolve) => setTimeout(resolve, Number(ctx.query.ms ?? 100)));
      return;
    case 'GET /static':
      ctx.body = 'static';
      return;
    case 'POST /rotate': {
      const before = sp.id;
      const after = await sp.rotate();
      ctx.body = { before, id: after, count: await sp.call({ type: 'get' }) };
      return;
    }
    case 'POST /logout':
      ctx.session = null;
      ctx.status = 204;
      return;
    case 'POST /terminate':
      await sp.terminate();
      ctx.status = 204;
      return;
    case 'POST /boom':
      await sp.call({ type: 'boom' });
      return;
    case 'POST /fail':
      // Uses the process (starting it, on a first visit), then fails.
      sp.cast({ type: 'inc' });
      await sp.call({ type: 'get' });
      throw new Error('handler failed');
    case 'POST /finish':
      sp.cast({ type: 'finish' });
      ctx.status = 204;
      return;
    default:
      ctx.status = 404;
  }
}

/**
 * A cookie jar entry signed with the app's keys by a real koa-session, holding `data`: what a
 * client can only have if the server wrote it (used to plant invalid or unknown IDs).
 */
export async function signedSessionCookies(
  data: Record<string, unknown>,
): Promise<Map<string, string>> {
  const t = await startTestServer({
    cookie: { key: COOKIE, maxAge: 60_000 },
    routes: (app) =>
      app.use((ctx) => {
        ctx.session = data;
        ctx.body = 'ok';
      }),
  });
  try {
    const jar = new CookieJar(t.url);
    await jar.request('GET', '/');
    return jar.cookies;
  } finally {
    await t.close();
  }
}

/** koa-session's cookie value for `data` (base64 of the JSON), as an attacker could forge it. */
export function encodeSession(data: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(data)).toString('base64');
}

/** Decodes the koa-session cookie of a client (the signature is not checked here). */
export function decodeSession(client: CookieJar): Record<string, unknown> | undefined {
  return client.sessionData(COOKIE);
}
