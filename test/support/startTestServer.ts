import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import session from 'koa-session';
import {
  createSessionSupervisor,
  type SessionSupervisor,
  type SupervisorOptions,
} from 'session-process';
import { type SessionProcessOptions, sessionProcess } from 'session-process/koa';
import { attachLiveBridge, type LiveBridge, type LiveBridgeOptions } from 'session-process/live';
import { afterAll, afterEach } from 'vitest';
import { counterMachine } from '../../machines/counter.js';
import { closeOpenSockets } from './ws.js';

/** Options of {@link startTestServer}. */
export interface TestServerOptions {
  /** Options of the supervisor it creates. @default { logic: counterMachine, startRate: false } */
  supervisor?: SupervisorOptions;
  /** koa-session options (key `sid`, `sameSite: 'lax'` unless given). */
  cookie?: Record<string, unknown>;
  /** Mounts `sessionProcess(sessions, options)` after koa-session. @default false (not mounted) */
  koa?: SessionProcessOptions | false;
  /**
   * Attaches the live bridge with these options (origins default to the server's own origin,
   * `onError` to a no-op). @default false (no bridge)
   */
  live?: Partial<LiveBridgeOptions> | false;
  /** App routes, mounted after the kit's own `GET /login`. */
  routes?: (app: Koa, sessions: SessionSupervisor) => void;
  /**
   * Middleware that must run before koa-session (a visualizer, which must not start sessions),
   * and app settings such as `app.proxy`.
   */
  beforeSession?: (app: Koa, sessions: SessionSupervisor) => void;
  /**
   * Attaches something else to the HTTP server (a visualizer feed); what it returns is closed
   * before the server, and again on each {@link TestServer.restart}.
   */
  attach?: (server: http.Server, sessions: SessionSupervisor) => { close(): unknown };
  /**
   * When the kit closes the server: after the current test (`'test'`), or after the file
   * (`'file'`, for servers started in `beforeAll`). @default 'test'
   */
  scope?: 'test' | 'file';
}

/** A running server made by {@link startTestServer}. */
export interface TestServer {
  app: Koa;
  server: http.Server;
  sessions: SessionSupervisor;
  sessionMiddleware: ReturnType<typeof session>;
  /** `undefined` unless `live` was given. */
  live: LiveBridge | undefined;
  /** `http://127.0.0.1:<port>`, also the allowed Origin of the live bridge. */
  url: string;
  origin: string;
  /** `ws://127.0.0.1:<port>/live` (or the bridge's `path`). */
  wsUrl: string;
  /** Starts a session as a page load would (`GET /login`); returns its cookie header and ID. */
  login(): Promise<{ cookie: string; sessionId: string }>;
  /**
   * Restarts the server as a deploy would: the bridge and the HTTP server close (every socket
   * drops), then a new server and bridge listen on the same port. The supervisor, and so every
   * session, stays (as with a store that restores them); `server` and `live` are the new ones.
   */
  restart(options?: {
    /** Replaces the supervisor: the old one is shut down first (a new process, same store). */
    sessions?: () => SessionSupervisor;
  }): Promise<void>;
  /** Closes the bridge, the sockets, the server and the supervisor (idempotent). */
  close(): Promise<void>;
}

const perTest = new Set<TestServer>();
const perFile = new Set<TestServer>();
// Registered once per test file (the module is evaluated in each file's own context): whatever a
// test started is closed even when the test failed or forgot to.
const servedApps = { test: new Set<{ close(): unknown }>(), file: new Set<{ close(): unknown }>() };

/** @internal Has the kit close `closable` after the test (or the file). */
export function closeWithTest(
  closable: { close(): unknown },
  scope: 'test' | 'file' = 'test',
): void {
  servedApps[scope].add(closable);
}
afterEach(closeTestServers);

/**
 * Closes now what the kit would close after the test: every socket and every test-scoped server.
 * For a test whose own teardown must come after (deleting the Redis keys the servers write).
 */
export async function closeTestServers(): Promise<void> {
  closeOpenSockets();
  await Promise.all([...perTest, ...servedApps.test].map((s) => s.close()));
  servedApps.test.clear();
}
afterAll(async () => {
  closeOpenSockets();
  await Promise.all([...perFile, ...servedApps.file].map((s) => s.close()));
  servedApps.file.clear();
});

/** The signing keys of every app the kit starts (`app.keys`), to sign cookies outside a request. */
export const TEST_KEYS = ['support-kit-signing-key-0123456789-abcdefghijklmnop'];

/**
 * A real Koa 3 app with koa-session 7, a supervisor (the counter machine unless told otherwise)
 * and, on request, `sessionProcess` and the live bridge, listening on 127.0.0.1 port 0.
 * `GET /login` starts a fresh session and puts its ID in the signed cookie (what a page load
 * does). Closed by the kit after the test (or the file, with `scope: 'file'`).
 *
 * @example
 * ```ts
 * const t = await startTestServer({ live: { events: ['add_one', 'get_value'] } });
 * const { cookie } = await t.login();
 * const ws = await connectWs(t.wsUrl, { origin: t.origin, cookie });
 * ```
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  let sessions = createSessionSupervisor({
    logic: counterMachine,
    startRate: false,
    onError: () => {},
    ...options.supervisor,
  });
  const app = new Koa();
  app.keys = TEST_KEYS;
  app.silent = true;
  options.beforeSession?.(app, sessions);
  const sessionMiddleware = session({ key: 'sid', sameSite: 'lax', ...options.cookie }, app);
  app.use(sessionMiddleware);
  let logins = 0;
  app.use(async (ctx, next) => {
    if (ctx.method !== 'GET' || ctx.path !== '/login') return next();
    const id = `kit${process.pid}x${++logins}x${Date.now()}`;
    await sessions.start(id);
    ctx.session!.sessionId = id;
    ctx.body = id;
  });
  if (options.koa) app.use(sessionProcess(sessions, options.koa));
  options.routes?.(app, sessions);

  let server = http.createServer(app.callback());
  const url = await listenOnLoopback(server);
  const { port } = server.address() as AddressInfo;
  let live: LiveBridge | undefined;
  let attached: { close(): unknown } | undefined;
  const attach = () => {
    live = options.live
      ? attachLiveBridge(server, {
          app,
          sessions,
          session: sessionMiddleware,
          origins: [url],
          onError: () => {},
          ...options.live,
        })
      : undefined;
    attached = options.attach?.(server, sessions);
  };
  attach();
  const stopServer = async () => {
    await attached?.close();
    await live?.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const registry = options.scope === 'file' ? perFile : perTest;
  let closing: Promise<void> | undefined;
  const t: TestServer = {
    app,
    get server() {
      return server;
    },
    get sessions() {
      return sessions;
    },
    sessionMiddleware,
    get live() {
      return live;
    },
    url,
    origin: url,
    wsUrl: `ws://127.0.0.1:${port}${(options.live ? options.live.path : undefined) ?? '/live'}`,
    async login() {
      const res = await fetch(`${url}/login`);
      if (!res.ok) throw new Error(`GET /login answered ${res.status}`);
      const sessionId = await res.text();
      const cookie = res.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      return { cookie, sessionId };
    },
    async restart(restartOptions = {}) {
      await stopServer();
      if (restartOptions.sessions) {
        await sessions.shutdown();
        sessions = restartOptions.sessions();
      }
      server = http.createServer(app.callback());
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      attach();
    },
    close() {
      closing ??= (async () => {
        registry.delete(t);
        await stopServer();
        await sessions.shutdown();
      })();
      return closing;
    },
  };
  registry.add(t);
  return t;
}

/**
 * Listens on 127.0.0.1 port 0 and resolves with `http://127.0.0.1:<port>`. Closing stays the
 * caller's (for servers an app under test owns).
 */
export function listenOnLoopback(server: http.Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

/** A server made by {@link serveApp}. */
export interface ServedApp {
  server: http.Server;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Closes the server and its connections (idempotent). */
  close(): Promise<void>;
}

/**
 * Serves any request handler (a bare Koa app's `callback()`, an example's own app) on 127.0.0.1
 * port 0, closed by the kit after the test (or the file, with `scope: 'file'`). For apps the
 * kit does not build: no keys, no koa-session, or the shape a test is about.
 *
 * @example
 * ```ts
 * const app = new Koa();
 * app.use(sessionProcess(sessions)); // no koa-session: the error under test
 * const { url } = await serveApp(app.callback());
 * ```
 */
export async function serveApp(
  handler: http.RequestListener,
  { scope = 'test' }: { scope?: 'test' | 'file' } = {},
): Promise<ServedApp> {
  const server = http.createServer(handler);
  const url = await listenOnLoopback(server);
  let closing: Promise<void> | undefined;
  const served: ServedApp = {
    server,
    url,
    close() {
      closing ??= new Promise<void>((resolve) => {
        servedApps[scope].delete(served);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
  servedApps[scope].add(served);
  return served;
}
