import type Koa from 'koa';
import type { SessionSnapshot, SessionSupervisor } from '../index.js';
import type { LiveEventCheck, LiveEvents } from './eventChecks.js';
import type { LiveRefusalReason, LiveRefusedError } from './LiveRefusedError.js';
import type { KoaSessionMiddleware } from './upgrade.js';

/** Options of {@link attachLiveBridge}. */
export interface LiveBridgeOptions<TContext = any> {
  /** The Koa application whose session middleware authenticates upgrades. */
  app: Koa<any, any>;
  /** The supervisor that runs the sessions. */
  sessions: SessionSupervisor;
  /**
   * The app's koa-session middleware (the same instance it `use`s). It runs on each upgrade
   * request, so the signed cookie is checked exactly as on an HTTP request; the upgrade is
   * accepted only when `ctx.session.sessionId` names a running session.
   */
  session: KoaSessionMiddleware;
  /**
   * Exact `Origin` values allowed to connect (scheme, host and port, as browsers send it);
   * `'same-origin'`: the request's own origin (`${ctx.protocol}://${ctx.host}`: its `Host`, and
   * with `app.proxy` the forwarded host and protocol); or a predicate. An upgrade without `Origin` is
   * refused (403): browsers always send it, and it is what stops another site's page from
   * opening a socket with the user's cookie.
   */
  origins: readonly string[] | 'same-origin' | ((origin: string, ctx: Koa.Context) => boolean);
  /** The URL path live views connect to; other upgrade paths are answered 404. @default '/live' */
  path?: string;
  /**
   * Event types live views may `send` or `call`; anything else gets an `EVENT_NOT_ALLOWED`
   * error. A list allows any payload; an object maps each allowed type to a check of its payload
   * (a Standard Schema such as zod's, a function, or `true` for none): an event that fails it gets
   * `INVALID_EVENT` and never reaches the session, and a schema's output is what the session
   * receives. See {@link LiveEventCheck}.
   * @default [] (views only watch)
   * @example
   * ```ts
   * events: {
   *   'cart.add': z.object({ sku: z.string().max(32), qty: z.number().int().min(1).max(99).optional() }),
   *   'cart.get': true,
   * },
   * ```
   */
  events?: LiveEvents;
  /**
   * What a page may see of a snapshot, sent as the snapshot message's `view` (must be
   * JSON-serializable). The context never leaves unless this returns it.
   * @default () => null (only `version` and the state `value` are sent)
   */
  view?: (snapshot: SessionSnapshot<TContext>) => unknown;
  /** Largest accepted frame from a client; a larger one closes the socket with 1009. @default 16_384 (bytes) */
  maxPayloadBytes?: number;
  /** Interval of pings; a peer that answered neither ping nor message within one interval is dropped. `0` disables. @default 30_000 (ms) */
  heartbeatMs?: number;
  /**
   * Above this many bytes waiting in a view's socket, intermediate snapshots are dropped and only
   * the newest is sent once the socket drains. @default 65_536 (bytes)
   */
  highWaterMarkBytes?: number;
  /** A view whose socket holds more than this (replies it does not read) is dropped. @default 1_048_576 (bytes) */
  maxBufferedBytes?: number;
  /**
   * Live views one session may have open at once (its tabs), counting upgrades still being
   * authenticated. One more is refused: close code 4429 `TOO_MANY_VIEWS` for a client speaking
   * the protocol (it retries with backoff), HTTP 429 otherwise. @default 32
   */
  maxViewsPerSession?: number;
  /**
   * Sockets the bridge holds at once over all sessions: open views, upgrades being authenticated
   * and refusals being closed. One more is answered HTTP 503 with `Retry-After` before any work is
   * done for it, so a flood of upgrades cannot use up the process's file descriptors.
   * @default 10_000
   */
  maxConnections?: number;
  /**
   * Live views one client (see `clientKey`) may hold at once over all its sessions, counting its
   * upgrades being authenticated and, when the app trusts no proxy, its connections to the server
   * that have not sent a complete request head yet (see `headersTimeoutMs`). One more upgrade is
   * refused like one over `maxViewsPerSession` (4429 `TOO_MANY_VIEWS`, HTTP 429). A client with
   * this many connections without a complete head has its next connection closed at once (its
   * views do not count there: a client at its view budget still loads pages). So one address with
   * many cookies cannot take `maxConnections` from everyone else. Many users behind one NAT share
   * an address: raise it if yours do.
   * @default 256
   * @example
   * ```ts
   * attachLiveBridge(server, { ...options, maxViewsPerClient: 64 });
   * ```
   */
  maxViewsPerClient?: number;
  /**
   * The client a view counts against for `maxViewsPerClient`, from the upgrade's Koa context.
   * @default (ctx) => clientAddress(ctx) (session-process/koa: the address the trusted proxy hops
   * saw, an IPv6 address's /64)
   * @example
   * ```ts
   * attachLiveBridge(server, { ...options, clientKey: (ctx) => clientAddress(ctx, { ipv6Prefix: 56 }) });
   * ```
   */
  clientKey?: (ctx: Koa.Context) => string;
  /**
   * A connection to the server that has not sent a complete request head within this time is
   * answered 408 and closed. The bridge cannot tell an upgrade from a request before its head is
   * complete, so it watches every new connection of the server until its first request (a
   * half-sent `GET /live` would otherwise hold a file descriptor unseen); later requests on a
   * kept-alive connection are left to Node's `server.headersTimeout`. `0` turns the watch off.
   * @default 10_000 (ms)
   * @example
   * ```ts
   * attachLiveBridge(server, { ...options, headersTimeoutMs: 5_000 });
   * ```
   */
  headersTimeoutMs?: number;
  /** Calls one view may have waiting at once; more get `TOO_MANY_CALLS`. @default 16 */
  maxPendingCalls?: number;
  /** Timeout of a view's `call` that names none. @default the supervisor's `callTimeoutMs` */
  callTimeoutMs?: number;
  /** Upper bound of the `timeoutMs` a view may ask for. @default 30_000 (ms) */
  maxCallTimeoutMs?: number;
  /**
   * Whether upgrades to paths no session-process handler claims are answered 404 (one tick
   * after the `upgrade` event, so other handlers on the same server get their turn). Set `false`
   * when another library serves other upgrade paths on this server.
   * @default true
   */
  rejectOtherPaths?: boolean;
  /**
   * Where failures go: a view that threw, a session middleware that threw, and every refused
   * upgrade (a {@link LiveRefusedError} with its `reason`: `origin`, `cookie`, `path`, `limit`,
   * `subprotocol` or `closing`; `info.reason` says the same).
   * @default console.error for failures; console.warn for refusals, at most one per reason a minute
   */
  onError?: (error: unknown, info: { sessionId?: string; reason?: LiveRefusalReason }) => void;
}

/** What {@link LiveBridge.stats} returns. */
export interface LiveBridgeStats {
  /** Live views connected now. */
  clients: number;
  /** Sessions with at least one live view now. */
  sessions: number;
  /** Bytes waiting in the views' sockets now, over all views. */
  bufferedBytes: number;
  /** Snapshots skipped for slow readers (a newer one replaced them), over the views connected now. */
  supersededSnapshots: number;
  /** Upgrades being authenticated or refused now (counted against `maxConnections`). */
  upgrading: number;
  /** Connections to the server without a complete request head now (see `headersTimeoutMs`). */
  pendingHeads: number;
  /** Connections closed because their request head did not arrive within `headersTimeoutMs`. */
  timedOutHeads: number;
  /** Upgrades refused since the bridge was attached (and connections closed at once for `maxViewsPerClient`). */
  refused: number;
}

/** What {@link attachLiveBridge} returns. */
export interface LiveBridge {
  /** Live views connected now. */
  readonly clients: number;
  /** Sessions with at least one live view now. */
  readonly sessions: number;
  /** Live views connected to one session now. */
  viewsOf(sessionId: string): number;
  /** Counters for monitoring (walks every view: call it now and then, not per message). */
  stats(): LiveBridgeStats;
  /**
   * Stops accepting upgrades, closes every view with 1001 (clients reconnect) and detaches from
   * the server. Resolves once every socket has closed.
   */
  close(): Promise<void>;
}
