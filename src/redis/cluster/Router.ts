import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { EventObject } from 'xstate';
import {
  CallTimeoutError,
  type SessionSnapshot,
  type StartOptions,
  StoreUnavailableError,
} from '../../index.js';
import type { ClusterKeys } from './keys.js';
import type { NodeLease } from './NodeLease.js';
import type { Ownership } from './Ownership.js';
import type { ClusterTelemetry } from './telemetry.js';
import { toWire, type WireError } from './wireError.js';
import { within } from './within.js';

/** @internal An operation on one session, as it travels to its owner. */
export interface RouteRequest {
  op: 'call' | 'cast' | 'ensure' | 'start' | 'terminate' | 'touch' | 'rename' | 'watch' | 'restore';
  id: string;
  event?: EventObject;
  start?: StartOptions;
  newId?: string;
  /** A call with `until`: the owner answers with the snapshot after the step. */
  until?: 1;
  /** The call's timeout on the owner, ms. */
  timeoutMs?: number;
}

/** @internal What the owner answers. */
export interface ReplyBody {
  ok?: 1;
  /** The value (a call's reply, touch's boolean). */
  v?: unknown;
  /** The session's snapshot after the operation (the caller's node keeps it for `snapshot()`). */
  x?: SessionSnapshot;
  /** The session's logic name. */
  l?: string;
  err?: WireError;
  /** Not the owner (any more): ask Redis again. */
  m?: 1;
}

interface WireRequest extends RouteRequest {
  k: 'q';
  /** Idempotency ID: the same for every retry of one operation. */
  r: string;
  /** The caller's node. */
  f: string;
  /** Attempt number, from 1. */
  a: number;
}

interface Waiter {
  resolve(body: ReplyBody | undefined): void;
  timer: NodeJS.Timeout;
}

interface Seen {
  /** The first attempt's answer (every repeat gets this one). */
  body: Promise<ReplyBody>;
  at: number;
}

/** How long the owner remembers a request ID and its reply. */
const SEEN_TTL_MS = 60_000;
/** A publish that reached no subscriber. */
const NOBODY = Symbol('nobody');
const SEEN_MAX = 20_000;
const OWNER_CACHE_MAX = 50_000;

/**
 * @internal Sends operations to the owner of a session over its node's pub/sub channel and brings
 * the answer back; answers the requests other nodes send here. Each operation carries an
 * idempotency ID: the owner applies it once and answers a repeat with the first reply; the caller
 * repeats it (same ID) when the owner is gone, stopped owning the session, or did not answer in
 * time, until the operation's deadline.
 */
export class Router {
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;
  readonly #lease: NodeLease;
  readonly #ownership: Ownership;
  readonly #telemetry: ClusterTelemetry;
  readonly #apply: (req: RouteRequest, rid: string, attempt: number) => Promise<ReplyBody>;
  /** Whether a node nothing listens for may be taken as dead now (see ClusterSupervisor). */
  readonly #presumeGone: () => boolean;
  readonly #waiters = new Map<string, Waiter>();
  readonly #seen = new Map<string, Seen>();
  /** Remote owners this node learned (a hint: a stale one costs a `moved` answer). */
  readonly #owners = new Map<string, string>();
  #seq = 0;
  readonly #ridPrefix: string;

  constructor(
    redis: Redis,
    keys: ClusterKeys,
    lease: NodeLease,
    ownership: Ownership,
    telemetry: ClusterTelemetry,
    apply: (req: RouteRequest, rid: string, attempt: number) => Promise<ReplyBody>,
    presumeGone: () => boolean = () => true,
  ) {
    this.#presumeGone = presumeGone;
    this.#redis = redis;
    this.#keys = keys;
    this.#lease = lease;
    this.#ownership = ownership;
    this.#telemetry = telemetry;
    this.#apply = apply;
    this.#ridPrefix = randomBytes(9).toString('base64url');
  }

  /** Forgets what this node knew about remote owners on `nodeId` (or all). */
  forgetOwners(nodeId?: string): void {
    if (nodeId === undefined) this.#owners.clear();
    else for (const [id, n] of this.#owners) if (n === nodeId) this.#owners.delete(id);
  }

  /** The remote owner this node last routed `id` to, if any. */
  ownerHint(id: string): string | undefined {
    return this.#owners.get(id);
  }

  /** A new idempotency ID: one per operation, from its first attempt, reused by every retry. */
  newRid(): string {
    return `${this.#ridPrefix}.${(++this.#seq).toString(36)}`;
  }

  /**
   * Sends `req` to the owner of its session (this node included), until `ttlMs` has passed.
   * `rid` and `tried`: an operation already attempted under that ID (the owner's own fast path,
   * whose session left while the call waited): every attempt from here counts as a retry, so the
   * owner looks the ID up before applying it.
   */
  async send(
    req: RouteRequest,
    ttlMs: number,
    rid: string = this.newRid(),
    tried = 0,
  ): Promise<ReplyBody> {
    const t0 = performance.now();
    const deadline = t0 + ttlMs;
    let attempt = tried;
    let to = this.#lease.nodeId;
    /** The owner a publish did not reach (a hint for the next acquisition). */
    let gone = '';
    /** The last Redis failure: at the deadline, the answer is STORE_UNAVAILABLE rather than a timeout. */
    let failure: unknown;
    const pause = () => sleep(Math.min(50, Math.max(0, deadline - performance.now())));
    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        const err =
          failure === undefined
            ? new CallTimeoutError(req.id, req.event?.type ?? req.op, ttlMs)
            : new StoreUnavailableError(failure, req.id);
        this.#emitRoute(req, to, attempt, t0, {
          err: { code: err.code, name: err.name, message: err.message },
        });
        throw err;
      }
      attempt++;
      try {
        let owner = this.#owners.get(req.id);
        if (owner === undefined) {
          // Bounded: the node may be without its lease (Redis away) for longer than the deadline.
          const o = await within(
            this.#ownership.acquire(req.id, this.#presumeGone() ? gone : ''),
            remaining,
          );
          if (o === undefined) continue;
          if (o.self) {
            to = this.#lease.nodeId;
            const body = await this.#handle(req, rid, attempt);
            if (body.m) continue;
            return body;
          }
          owner = o.nodeId;
          this.#remember(req.id, owner);
        }
        to = owner;
        const body = await this.#remote(
          req,
          rid,
          attempt,
          owner,
          Math.min(remaining, this.#attemptMs(attempt)),
        );
        if (body === NOBODY) {
          // Nobody listens on the owner's channel: its process is gone (a fast sign, before its
          // lease lapses); the next acquisition asks Redis to confirm it and takes over.
          this.#owners.delete(req.id);
          if (gone === owner) await pause();
          gone = owner;
          continue;
        }
        if (body === undefined || body.m) {
          this.#owners.delete(req.id);
          // A `moved` answer right after another: the session is between owners, do not spin.
          if (body !== undefined && attempt > 2) await pause();
          continue;
        }
        if (this.#telemetry.active('route')) this.#emitRoute(req, owner, attempt, t0, body);
        return body;
      } catch (err) {
        // Redis did not answer (a command failed): try again until the deadline.
        failure = err;
        this.#owners.delete(req.id);
        await pause();
      }
    }
  }

  /**
   * How long to wait for the owner's answer before asking again (same ID, so a slow call is not
   * applied twice): short at first, so that a process killed while the request was on its way is
   * noticed fast (the repeat finds nobody listening), then up to a third of the lease, so that a
   * paused owner is noticed within the lease.
   */
  #attemptMs(attempt: number): number {
    return Math.min(25 * 2 ** Math.min(attempt, 10), Math.max(100, this.#lease.leaseMs / 3));
  }

  #remember(id: string, nodeId: string): void {
    if (this.#owners.size >= OWNER_CACHE_MAX) this.#owners.clear();
    this.#owners.set(id, nodeId);
  }

  async #remote(
    req: RouteRequest,
    rid: string,
    attempt: number,
    nodeId: string,
    waitMs: number,
  ): Promise<ReplyBody | typeof NOBODY | undefined> {
    const msg: WireRequest = { ...req, k: 'q', r: rid, f: this.#lease.nodeId, a: attempt };
    const reply = new Promise<ReplyBody | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(rid);
        resolve(undefined);
      }, waitMs);
      this.#waiters.set(rid, { resolve, timer });
    });
    const receivers = await this.#redis.publish(this.#keys.channel(nodeId), JSON.stringify(msg));
    if (receivers === 0) {
      const w = this.#waiters.get(rid);
      if (w) {
        clearTimeout(w.timer);
        this.#waiters.delete(rid);
      }
      return NOBODY;
    }
    return reply;
  }

  /** A message on this node's channel: a request to apply, or a reply to a request sent from here. */
  onMessage(raw: string): void {
    let msg: (WireRequest | (ReplyBody & { k: 'p'; r: string })) | undefined;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (msg.k === 'p') {
      const w = this.#waiters.get(msg.r);
      if (!w) return;
      this.#waiters.delete(msg.r);
      clearTimeout(w.timer);
      w.resolve(msg);
      return;
    }
    if (msg.k !== 'q') return;
    const req = msg;
    const answer = (body: ReplyBody) => {
      void this.#redis
        .publish(this.#keys.channel(req.f), JSON.stringify({ ...body, k: 'p', r: req.r }))
        .catch(() => {});
    };
    // A failure here (Redis did not answer the applied-ID check) is the caller's to retry.
    this.#handle(req, req.r, req.a).then(answer, (err: unknown) => answer({ err: toWire(err) }));
  }

  /**
   * Applies a request on this node once per idempotency ID: a repeat gets the first reply (waiting
   * for it when the first attempt is still running).
   */
  #handle(req: RouteRequest, rid: string, attempt: number): Promise<ReplyBody> {
    const seen = this.#seen.get(rid);
    if (seen) return seen.body;
    if (!this.#ownership.owns(req.id)) return Promise.resolve({ m: 1 });
    this.#prune();
    const body = this.#apply(req, rid, attempt).then(
      (b) => {
        // Not applied here (the session moved meanwhile): a repeat must be free to go elsewhere.
        if (b.m) this.#seen.delete(rid);
        return b;
      },
      (err: unknown) => {
        this.#seen.delete(rid);
        throw err;
      },
    );
    this.#seen.set(rid, { body, at: performance.now() });
    return body;
  }

  #prune(): void {
    const now = performance.now();
    for (const [rid, s] of this.#seen) {
      if (this.#seen.size < SEEN_MAX && now - s.at < SEEN_TTL_MS) break;
      this.#seen.delete(rid);
    }
  }

  #emitRoute(req: RouteRequest, to: string, attempts: number, t0: number, body: ReplyBody): void {
    if (!this.#telemetry.active('route')) return;
    this.#telemetry.emit('route', {
      sessionId: req.id,
      op: req.op,
      nodeId: this.#lease.nodeId,
      to,
      attempts,
      durationMs: performance.now() - t0,
      outcome: body.err ? 'error' : 'ok',
      ...(body.err?.code ? { errorCode: body.err.code } : {}),
    });
  }

  /** Rejects nothing: pending sends end by their own deadlines. Clears the caches. */
  close(): void {
    for (const w of this.#waiters.values()) {
      clearTimeout(w.timer);
      w.resolve(undefined);
    }
    this.#waiters.clear();
    this.#seen.clear();
    this.#owners.clear();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
