import type { Server } from 'node:http';
import type Koa from 'koa';
import type { SessionSupervisor } from 'session-process';
import { type VisualizerOptions, visualizer } from 'session-process/visualizer';
import type { WebSocket } from 'ws';
import type { AnyActorLogic } from 'xstate';
import { cartMachine } from '../../machines/cart.js';
import { CookieJar, connectWs, recordFrames, startTestServer } from '../support/index.js';

export interface VizApp {
  url: string;
  sessions: SessionSupervisor;
  app: Koa;
  server: Server;
  /** A browser-like HTTP client with its own cookie jar (one session each). */
  client(): VizClient;
  /** Opens the visualizer feed as a Node WebSocket client; resolves once connected. */
  feed(headers?: Record<string, string>): Promise<FeedTestClient>;
  close(): Promise<void>;
}

/**
 * The kit's server (koa-session 7, closed after the test) with the visualizer at `/_sessions`
 * mounted before koa-session and `sessionProcess` on `cartMachine` after it. Routes (each starts
 * or reuses the cookie's session): `GET /id` → `{ id }`; `POST /event` casts the JSON body to the
 * session (204); `GET /cart` → the cart (a call).
 */
export async function startVizApp(
  options: VisualizerOptions = {},
  { logic = cartMachine as AnyActorLogic, proxy = false } = {},
): Promise<VizApp> {
  let viz: ReturnType<typeof visualizer> | undefined;
  const t = await startTestServer({
    supervisor: { logic },
    beforeSession: (app, sessions) => {
      app.proxy = proxy;
      viz = visualizer(sessions, { allowSend: true, app, ...options });
      app.use(viz);
    },
    attach: (server) => viz!.attach(server),
    cookie: { maxAge: 60_000, httpOnly: true },
    // Eager and without the per-client limit: the tests make sessions with GET /id, all from 127.0.0.1.
    koa: { lazy: false, clientStartRate: false },
    routes: (app) =>
      app.use(async (ctx) => {
        const sp = ctx.sessionProcess;
        if (ctx.method === 'GET' && ctx.path === '/id') {
          ctx.body = { id: sp.id };
        } else if (ctx.method === 'POST' && ctx.path === '/event') {
          sp.cast(JSON.parse(await readText(ctx.req)));
          ctx.status = 204;
        } else if (ctx.method === 'GET' && ctx.path === '/cart') {
          ctx.body = await sp.call({ type: 'cart.get' });
        } else ctx.status = 404;
      }),
  });
  return {
    url: t.url,
    sessions: t.sessions,
    app: t.app,
    server: t.server,
    client: () => new VizClient(t.url),
    async feed(headers = {}) {
      const ws = await connectWs(`${t.url.replace('http', 'ws')}/_sessions/feed`, headers);
      const rec = recordFrames(ws);
      return {
        ws,
        messages: rec.messages,
        send: (msg) => ws.send(JSON.stringify(msg)),
        next: (match, { from = 0, timeoutMs = 3_000 } = {}) => rec.next(match, from, timeoutMs),
        close: () => ws.close(),
      };
    },
    close: () => t.close(),
  };
}

function readText(req: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (text += c));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

/** The kit's cookie jar with the routes of {@link startVizApp} as methods. */
export class VizClient extends CookieJar {
  /** Starts (or reuses) this client's session; returns its ID. */
  async id(): Promise<string> {
    return (await this.json<{ id: string }>('GET', '/id')).id;
  }
  async send(event: { type: string; [k: string]: unknown }): Promise<void> {
    const res = await this.request('POST', '/event', event);
    if (res.status !== 204) throw new Error(`POST /event answered ${res.status}`);
  }
}

/** A feed connection (the kit's `connectWs`), its messages parsed, recorded from the start. */
export interface FeedTestClient {
  ws: WebSocket;
  readonly messages: any[];
  send(msg: unknown): void;
  /** Resolves with the first message (index `from` on) matching. */
  next(match: (m: any) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<any>;
  close(): void;
}
