import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type Koa from 'koa';
import type { Context, Middleware } from 'koa';
import type { AllowedHosts } from '../koa/index.js';
import type { Sanitize } from './sanitize.js';
import type { DropReason, RefusalReason, VisualizerError } from './VisualizerError.js';

/**
 * Browser origins allowed to open the feed besides the page's own: exact `Origin` values, a
 * predicate, or `'same-origin'` for none (the shape of the live bridge's `origins`).
 */
export type VisualizerOrigins =
  | readonly string[]
  | 'same-origin'
  | ((origin: string, ctx: Koa.Context) => boolean);

/** Options of {@link visualizer}. */
export interface VisualizerOptions {
  /** Where the page is mounted; the feed is at `${path}/feed`. @default '/_sessions' */
  path?: string;
  /**
   * Who may see the page, its assets and the feed (403 otherwise). For the feed it is called
   * with a Koa context built from the upgrade request (`app.createContext(req, res)`), so the
   * same checks (cookies, headers, `ctx.ip`) work for both.
   * @default isLoopback
   */
  authorize?: (ctx: Context) => boolean | Promise<boolean>;
  /**
   * Host names the page and the feed answer to, besides loopback names (`localhost`,
   * `*.localhost`) and IP addresses, which always pass: exact names, `'.example.com'` for a
   * domain and its subdomains, or `'any'` to turn the check off. Any other `Host` gets a 403
   * that names this option: it is what stops a DNS-rebinding page from reading the sessions.
   * Behind a proxy with `app.proxy`, the host checked is `X-Forwarded-Host`.
   * @default [] (loopback names and IP addresses only)
   */
  allowedHosts?: AllowedHosts;
  /**
   * Rewrites everything that leaves the server: contexts, event payloads, state values.
   * @default defaultSanitize: contexts and events through `maskSecrets` (values under keys such
   * as password, secret, token, apiKey, authorization, cookie, card, cvv, pin, otp, ssn, at any
   * depth, in Maps and Sets too, become '••••••')
   */
  sanitize?: Sanitize;
  /** Whether the page may send events to a session (a cast). @default false */
  allowSend?: boolean;
  /**
   * The Koa app, used to build the context `authorize` sees for a feed upgrade.
   * @default the app of the first request the middleware sees (until then the feed answers 403)
   */
  app?: Koa<any, any>;
  /**
   * Browser origins that may open the feed besides the page's own (same host and port, as
   * `ctx.host` gives it: with `app.proxy`, the forwarded one), which always may: a list of exact
   * `Origin` values, a predicate, or `'same-origin'`. Clients that send no `Origin` (not
   * browsers) are judged by `authorize` alone.
   * @default 'same-origin'
   */
  origins?: VisualizerOrigins;
  /** Changes are batched and sent at most this often, per browser. @default 250 (ms) */
  throttleMs?: number;
  /** Most sessions a list page may hold. @default 200 */
  maxPageSize?: number;
  /** Largest message a browser may send on the feed. @default 65_536 (bytes) */
  maxPayloadBytes?: number;
  /**
   * Most bytes queued for one browser; a feed above it is closed with code 4008 and reported
   * (`VISUALIZER_DROPPED`, reason `slow-reader`). Updates stop being sent well before (above a
   * quarter of it) and resume when the browser catches up.
   * @default 4_194_304 (4 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Most requests (list, select, send) a browser may leave unanswered while it is not reading
   * what it was sent; one more and its feed is closed like a slow reader's.
   * @default 100
   */
  maxUnansweredRequests?: number;
  /** Most feeds open (and opening) at once; more are refused with 503. @default 64 */
  maxConnections?: number;
  /** Ping interval; a browser that misses a pong is disconnected. @default 30_000 (ms) */
  heartbeatMs?: number;
  /** The page's title. @default 'Sessions' */
  title?: string;
  /**
   * Told about every refused request or upgrade and every dropped feed, with the reason
   * (`host`, `origin`, `authorize`, `path`, `limit`, `no-app`, `slow-reader`). The same reports go
   * to the `session-process:visualizer-refused` and `:visualizer-dropped` diagnostics channels
   * (`visualizerTelemetryChannels`).
   * Its shape is the supervisor's and the live bridge's: an error, then an info object (here with
   * the `reason`, as the live bridge's).
   * @default logs with `NODE_DEBUG=session-process`
   */
  onError?: (
    error: VisualizerError,
    info: { source: 'refused' | 'dropped'; reason: RefusalReason | DropReason },
  ) => void;
}

/** What `attach` returns: the feed on one server. */
export interface VisualizerAttachment {
  /** Detaches the feed from the server and closes its connections. */
  close(): Promise<void>;
}

/** The visualizer: a Koa middleware with an `attach` method for its live feed. */
export interface Visualizer extends Middleware {
  /**
   * Adds the live feed to an HTTP or HTTPS server (on its `upgrade` event, for `${path}/feed`;
   * other upgrades under `path` are refused, the rest left to other handlers).
   *
   * @example
   * ```ts
   * const feed = viz.attach(server);
   * await feed.close(); // detaches it and closes its feeds
   * ```
   */
  attach(server: Server | HttpsServer): VisualizerAttachment;
  /** Detaches from every server and closes every feed. */
  close(): Promise<void>;
  /** The mount path. */
  readonly path: string;
}
