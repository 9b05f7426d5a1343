import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import session from 'koa-session';
import {
  createSessionSupervisor,
  type SessionSupervisor,
  type SupervisorOptions,
} from 'session-process';
import { attachLiveBridge, type LiveBridge, type LiveBridgeOptions } from 'session-process/live';
import { WebSocket } from 'ws';
import { counterMachine } from '../../machines/counter.js';

export interface LiveTestServer {
  app: Koa;
  sessionMiddleware: ReturnType<typeof session>;
  sessions: SessionSupervisor;
  live: LiveBridge;
  server: http.Server;
  /** `ws://127.0.0.1:<port>/live` */
  url: string;
  /** The allowed Origin: `http://127.0.0.1:<port>` */
  origin: string;
  baseUrl: string;
  /** Starts a session through the app (as a page load would) and returns its signed cookie and ID. */
  login(): Promise<{ cookie: string; sessionId: string }>;
  /** A ws client with the given headers; resolves once open. */
  connect(
    headers: Record<string, string>,
    options?: ConstructorParameters<typeof WebSocket>[2],
  ): Promise<WebSocket>;
  /**
   * Restarts the server as a deploy would: the bridge and the HTTP server close (every socket
   * drops), then a new server and bridge listen on the same port. The supervisor, and so every
   * session, stays (as with a store that restores them). `live` and `server` are the new ones.
   */
  restart(options?: {
    /** Replaces the supervisor: the old one is shut down first (a new process, same store). */
    sessions?: () => SessionSupervisor;
  }): Promise<void>;
  close(): Promise<void>;
}

const opened = new Set<LiveTestServer>();

/**
 * A real Koa app with koa-session, a supervisor running the counter machine and the live bridge,
 * listening on 127.0.0.1, port 0. `GET /login` starts a session and sets the signed cookie.
 * Every server made here is closed by {@link closeAll} (call it in `afterEach`).
 */
export async function startLiveTestServer(
  bridge: Partial<LiveBridgeOptions> = {},
  supervisor: SupervisorOptions = {},
  /** Extra static responses by path: `[content type, body]`. */
  files: Record<string, [string, string]> = {},
): Promise<LiveTestServer> {
  let sessions: SessionSupervisor = createSessionSupervisor({
    logic: counterMachine,
    ...supervisor,
  });
  const app = new Koa();
  app.keys = ['test-secret-1'];
  const sessionMiddleware = session({ key: 'sid', sameSite: 'lax' }, app);
  app.use(sessionMiddleware);
  let n = 0;
  app.use(async (ctx) => {
    if (ctx.path === '/login') {
      const id = `s${process.pid}x${++n}x${Date.now()}`;
      await sessions.start(id);
      ctx.session!.sessionId = id;
      ctx.body = id;
      return;
    }
    const file = files[ctx.path];
    if (file) {
      ctx.type = file[0];
      ctx.body = file[1];
      return;
    }
    ctx.status = 404;
  });
  let server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const attach = () =>
    attachLiveBridge(server, {
      app,
      sessions,
      session: sessionMiddleware,
      origins: [origin],
      events: ['add_one', 'get_value'],
      view: (s) => ({ count: s.context.count }),
      onError: () => {},
      ...bridge,
    });
  let live = attach();
  const sockets = new Set<WebSocket>();
  const stopServer = async () => {
    await live.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const t: LiveTestServer = {
    app,
    sessionMiddleware,
    get sessions() {
      return sessions;
    },
    get live() {
      return live;
    },
    get server() {
      return server;
    },
    url: `ws://127.0.0.1:${port}/live`,
    origin,
    baseUrl: origin,
    async login() {
      const res = await fetch(`${origin}/login`);
      const sessionId = await res.text();
      const cookie = res.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      return { cookie, sessionId };
    },
    connect(headers, options = {}) {
      const ws = new WebSocket(t.url, { headers, ...options });
      sockets.add(ws);
      // Record from the start: the first snapshot can arrive in the same tick as 'open'.
      record(ws);
      return new Promise((resolve, reject) => {
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    },
    async restart(options = {}) {
      await stopServer();
      if (options.sessions) {
        await sessions.shutdown();
        sessions = options.sessions();
      }
      server = http.createServer(app.callback());
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      live = attach();
    },
    async close() {
      opened.delete(t);
      for (const ws of sockets) ws.terminate();
      await stopServer();
      await sessions.shutdown();
    },
  };
  opened.add(t);
  return t;
}

/** Closes every server {@link startLiveTestServer} made. */
export async function closeAll(): Promise<void> {
  await Promise.all([...opened].map((t) => t.close()));
}

/** The HTTP status a refused upgrade got. */
export function refusal(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.on('error', () => {});
  });
}

/**
 * How a client speaking the protocol (it offers the subprotocol, as `connectLive` does) learns of
 * a refused upgrade: the handshake completes and the socket closes at once with this code and
 * reason.
 */
export function refusalClose(
  url: string,
  headers: Record<string, string>,
): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['session-process.v1'], { headers });
    let messages = 0;
    ws.on('message', () => messages++);
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      reject(new Error(`refused over HTTP (${res.statusCode}), not with a close code`));
    });
    ws.on('close', (code, reason) => {
      if (messages > 0) reject(new Error(`a refused view got ${messages} messages`));
      else resolve({ code, reason: String(reason) });
    });
    ws.on('error', () => {});
  });
}

const recorders = new WeakMap<WebSocket, Recorder>();

/** A socket's messages (parsed) and its close, recorded from the time the socket was made. */
export type Recorder = ReturnType<typeof createRecorder>;

/** The recorder of a socket (made by `connect`, or from now on). */
export function record(ws: WebSocket): Recorder {
  let rec = recorders.get(ws);
  if (!rec) recorders.set(ws, (rec = createRecorder(ws)));
  return rec;
}

function createRecorder(ws: WebSocket) {
  const messages: any[] = [];
  const waiters: Array<() => void> = [];
  let closed: { code: number; reason: string } | undefined;
  ws.on('message', (data) => {
    messages.push(JSON.parse(String(data)));
    for (const w of waiters.splice(0)) w();
  });
  ws.on('close', (code, reason) => {
    closed = { code, reason: String(reason) };
    for (const w of waiters.splice(0)) w();
  });
  const until = (ok: () => boolean, what: string, timeoutMs = 3_000) =>
    new Promise<void>((resolve, reject) => {
      if (ok()) return resolve();
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (ok()) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      waiters.push(check);
    });
  return {
    messages,
    get closed() {
      return closed;
    },
    /** Resolves with the first message (from `from` on) matching `match`. */
    async next(match: (m: any) => boolean = () => true, from = 0) {
      let found: any;
      await until(() => {
        found = messages.slice(from).find(match);
        return found !== undefined;
      }, 'a message');
      return found;
    },
    whenClosed: () => until(() => closed !== undefined, 'the close').then(() => closed!),
  };
}
