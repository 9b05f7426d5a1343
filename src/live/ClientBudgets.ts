import type { IncomingMessage, Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { clientAddress } from '../koa/index.js';
import { type LiveRefusalReason, LiveRefusedError } from './LiveRefusedError.js';
import { PendingHeads } from './PendingHeads.js';
import { type LiveRefusedEvent, liveTelemetryChannels } from './telemetry.js';

/** What {@link ClientBudgets} needs from its bridge. @internal */
export interface ClientBudgetsContext {
  /** Sockets one client may hold at once (views, upgrades, unfinished heads). */
  maxViewsPerClient: number;
  /** Closes a new connection whose request head is not complete after this long; 0: never. */
  headersTimeoutMs: number;
  /** The app, read on each connection: behind a trusted proxy (`app.proxy`) heads are not keyed. */
  app: { proxy: boolean };
  report(error: unknown, sessionId?: string, reason?: LiveRefusalReason): void;
  /** A connection refused at once because its client holds too many unfinished heads. */
  refused(): void;
  /** A connection closed because its head did not arrive in time. */
  timedOut(): void;
}

/**
 * @internal
 * The sockets each client holds on the bridge: views and upgrades being authenticated, from the
 * moment an upgrade passed the per-client check until its socket closes, plus the connections of
 * the server still waiting for their first request head (watched by {@link PendingHeads}).
 */
export class ClientBudgets {
  readonly #byClient = new Map<string, number>();
  readonly #pendingHeads: PendingHeads | undefined;

  constructor(server: Server | HttpsServer, ctx: ClientBudgetsContext) {
    const { maxViewsPerClient } = ctx;
    this.#pendingHeads =
      ctx.headersTimeoutMs > 0
        ? new PendingHeads(server, {
            timeoutMs: ctx.headersTimeoutMs,
            // Behind a proxy, every connection comes from the proxy: the client is known only from
            // the head's X-Forwarded-For, and the proxy's own header deadline guards the rest.
            keyOf: (socket) =>
              ctx.app.proxy
                ? undefined
                : clientAddress({ app: {}, req: { socket, headers: {} } as IncomingMessage }),
            // Unfinished heads alone: a client at its view budget still loads pages.
            admits: (key): boolean => (this.#pendingHeads?.count(key) ?? 0) < maxViewsPerClient,
            refused: (key) => {
              ctx.refused();
              const message = `The client ${key} holds maxViewsPerClient (${maxViewsPerClient}) connections without a complete request head: a new one was closed`;
              const ch = liveTelemetryChannels.refused;
              if (ch.hasSubscribers) {
                const event: LiveRefusedEvent = {
                  reason: 'limit',
                  code: 'TOO_MANY_VIEWS',
                  status: 429,
                  path: '',
                  origin: undefined,
                  sessionId: undefined,
                  message,
                };
                ch.publish(event);
              }
              ctx.report(
                new LiveRefusedError('limit', 'TOO_MANY_VIEWS', 429, message),
                undefined,
                'limit',
              );
            },
            timedOut: () => ctx.timedOut(),
          })
        : undefined;
  }

  /** Sockets `key` holds: views, upgrades and unfinished heads. */
  heldBy(key: string): number {
    return (this.#byClient.get(key) ?? 0) + (this.#pendingHeads?.count(key) ?? 0);
  }

  /** Counts `socket` against `key` until it closes. */
  hold(key: string, socket: Duplex): void {
    this.#byClient.set(key, (this.#byClient.get(key) ?? 0) + 1);
    socket.once('close', () => {
      const n = (this.#byClient.get(key) ?? 1) - 1;
      if (n === 0) this.#byClient.delete(key);
      else this.#byClient.set(key, n);
    });
  }

  /** Connections waiting for their first request head. */
  get pendingHeads(): number {
    return this.#pendingHeads?.size ?? 0;
  }

  /** Stops watching new connections. */
  close(): void {
    this.#pendingHeads?.close();
  }
}
