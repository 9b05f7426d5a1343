import type { IncomingMessage, Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { answerHttp } from './upgrade.js';

/** What {@link PendingHeads} needs from its bridge. @internal */
export interface PendingHeadsContext {
  /** Closes a connection whose request head is not complete after this long. */
  timeoutMs: number;
  /** The client a new connection counts against, or `undefined` when its peer is a proxy. */
  keyOf(socket: Socket): string | undefined;
  /** Whether the client may open one more connection. */
  admits(key: string): boolean;
  /** A connection refused at once because its client is at its budget. */
  refused(key: string): void;
  /** A connection closed because its head did not arrive in time. */
  timedOut(): void;
}

/**
 * @internal
 * Connections of a server that have not sent a complete request head yet: a WebSocket upgrade is
 * only known as one once its head is complete, so a peer that sends half a `GET /live` (a
 * slowloris) holds a file descriptor the bridge never sees. Each new connection is counted
 * against its client until its first request or upgrade arrives, and closed (`408`) if that takes
 * longer than `timeoutMs`; a client at its budget has a new connection closed at once. Later
 * requests on a kept-alive connection are Node's `headersTimeout`'s.
 */
export class PendingHeads {
  readonly #server: Server | HttpsServer;
  readonly #ctx: PendingHeadsContext;
  readonly #pending = new Map<
    Socket,
    { key: string | undefined; timer: NodeJS.Timeout; onClose: () => void }
  >();
  readonly #byKey = new Map<string, number>();
  readonly #event: 'connection' | 'secureConnection';
  readonly #onConnection = (socket: Socket): void => this.#add(socket);
  readonly #onRequest = (req: IncomingMessage): void => this.settle(req.socket);
  readonly #onUpgrade = (req: IncomingMessage): void => this.settle(req.socket);

  constructor(server: Server | HttpsServer, ctx: PendingHeadsContext) {
    this.#server = server;
    this.#ctx = ctx;
    // On an https server the request's socket is the TLS socket, made after the handshake (whose
    // own deadline is the server's `handshakeTimeout`).
    this.#event = server instanceof TlsServer ? 'secureConnection' : 'connection';
    server.on(this.#event, this.#onConnection);
    server.prependListener('request', this.#onRequest);
    server.prependListener('upgrade', this.#onUpgrade);
  }

  /** Connections of `key` whose head is not complete yet. */
  count(key: string): number {
    return this.#byKey.get(key) ?? 0;
  }

  /** Connections without a complete head now. */
  get size(): number {
    return this.#pending.size;
  }

  /** The head of `socket` arrived (or it closed): it no longer counts. */
  settle(socket: Socket): void {
    const entry = this.#pending.get(socket);
    if (entry === undefined) return;
    this.#pending.delete(socket);
    clearTimeout(entry.timer);
    socket.removeListener('close', entry.onClose);
    if (entry.key !== undefined) {
      const n = (this.#byKey.get(entry.key) ?? 1) - 1;
      if (n === 0) this.#byKey.delete(entry.key);
      else this.#byKey.set(entry.key, n);
    }
  }

  /** Stops watching the server (connections still pending are left to Node's own deadlines). */
  close(): void {
    this.#server.removeListener(this.#event, this.#onConnection);
    this.#server.removeListener('request', this.#onRequest);
    this.#server.removeListener('upgrade', this.#onUpgrade);
    for (const socket of [...this.#pending.keys()]) this.settle(socket);
  }

  #add(socket: Socket): void {
    const key = this.#ctx.keyOf(socket);
    if (key !== undefined && !this.#ctx.admits(key)) {
      this.#ctx.refused(key);
      socket.destroy();
      return;
    }
    const timer = setTimeout(() => {
      if (!this.#pending.has(socket)) return;
      this.settle(socket);
      this.#ctx.timedOut();
      answerHttp(socket, 408);
      // A peer that does not read cannot keep the socket by not taking the answer.
      setTimeout(() => socket.destroy(), 1_000).unref();
    }, this.#ctx.timeoutMs);
    timer.unref();
    const onClose = (): void => this.settle(socket);
    this.#pending.set(socket, { key, timer, onClose });
    if (key !== undefined) this.#byKey.set(key, (this.#byKey.get(key) ?? 0) + 1);
    socket.once('close', onClose);
  }
}
