import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import session from 'koa-session';
import { assign, setup } from 'xstate';
import {
  createSessionSupervisor,
  reply,
  type SessionSupervisor,
  type SupervisorOptions,
} from 'session-process';
import { type SessionProcessOptions, sessionProcess } from 'session-process/koa';

export const KEYS = ['test-key-0123456789-abcdefghijklmnopqrstuvwxyz'];
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
  client(): Client;
  close(): Promise<void>;
}

/**
 * A real Koa 3 app with koa-session 7 and `sessionProcess`, on 127.0.0.1 and a free port.
 * Routes: `GET /id`, `GET /count`, `POST /inc` (a cast, then a call), `POST /add` (one call), `POST /cast` (a cast, 204), `GET /static`
 * (does not touch the process), `POST /rotate`, `POST /logout` (`ctx.session = null`),
 * `POST /terminate`, `POST /boom`, `POST /finish`, `POST /fail` (uses the process, then throws).
 */
export async function startApp(
  supervisor: SupervisorOptions = {},
  middleware: SessionProcessOptions = {},
  koaSession: Record<string, unknown> = {},
): Promise<TestApp> {
  const sessions = createSessionSupervisor({
    logic: tallyMachine,
    onError: () => {},
    ...supervisor,
  });
  const app = new Koa();
  app.keys = KEYS;
  app.silent = true;
  app.use(
    session({ key: COOKIE, maxAge: 60_000, httpOnly: true, sameSite: 'lax', ...koaSession }, app),
  );
  app.use(sessionProcess(sessions, middleware));
  app.use(async (ctx) => {
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
  });
  const server = await listen(app);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    sessions,
    app,
    server,
    client: () => new Client(url),
    async close() {
      await closeServer(server);
      await sessions.shutdown();
    },
  };
}

export function listen(app: Koa): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1');
    server.once('listening', () => resolve(server));
    server.once('error', reject);
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** fetch with a small cookie jar: keeps what `Set-Cookie` sets, drops what it expires. */
export class Client {
  readonly base: string;
  readonly cookies = new Map<string, string>();

  constructor(base: string) {
    this.base = base;
  }

  async request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    const cookie = this.cookieHeader();
    if (cookie) headers.cookie = cookie;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.base + path, {
      method,
      headers,
      redirect: 'manual',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    this.store(res.headers.getSetCookie());
    return res;
  }

  async json<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body);
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** A second client holding a copy of this one's cookies (a copied or stolen cookie). */
  clone(): Client {
    const other = new Client(this.base);
    for (const [k, v] of this.cookies) other.cookies.set(k, v);
    return other;
  }

  store(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k = '', v = ''] = a.split('=');
        return k.trim().toLowerCase() === 'expires' && Date.parse(v) <= Date.now();
      });
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

/**
 * A cookie jar entry signed with the app's keys by a real koa-session, holding `data`: what a
 * client can only have if the server wrote it (used to plant invalid or unknown IDs).
 */
export async function signedSessionCookies(
  data: Record<string, unknown>,
): Promise<Map<string, string>> {
  const app = new Koa();
  app.keys = KEYS;
  app.use(session({ key: COOKIE, maxAge: 60_000 }, app));
  app.use((ctx) => {
    ctx.session = data;
    ctx.body = 'ok';
  });
  const server = await listen(app);
  try {
    const client = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    await client.request('GET', '/');
    return client.cookies;
  } finally {
    await closeServer(server);
  }
}

/** koa-session's cookie value for `data` (base64 of the JSON), as an attacker could forge it. */
export function encodeSession(data: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(data)).toString('base64');
}

/** Decodes the koa-session cookie of a client (the signature is not checked here). */
export function decodeSession(client: Client): Record<string, unknown> | undefined {
  const value = client.cookies.get(COOKIE);
  return value === undefined
    ? undefined
    : JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
}
