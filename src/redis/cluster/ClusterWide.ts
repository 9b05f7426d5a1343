import type { Redis } from 'ioredis';
import {
  CallTimeoutError,
  type ListOptions,
  type SessionInfo,
  type SessionPage,
  type SessionPresence,
  type SessionSnapshot,
  type SessionSupervisor,
} from '../../index.js';
import type { ClusterKeys } from './keys.js';
import { type NodeQuery, NodeQueries } from './NodeQueries.js';
import { presence } from './presence.js';
import type { ReplyBody, RouteRequest } from './Router.js';
import { toWire } from './wireError.js';

/** Most rows one node sends for the visualizer's list. */
const MAX_LIST_ROWS = 10_000;

/** @internal What the cluster-wide answers need from their node. */
export interface ClusterWideParts {
  redis: Redis;
  keys: ClusterKeys;
  nodeId: string;
  /** The node's in-process supervisor (the sessions it runs). */
  local: SessionSupervisor;
  /** Live nodes as of the last renewal (this one included). */
  liveNodes(): readonly string[];
  /** Keeps a snapshot (and logic name) of a remote session seen here, for `snapshot()`. */
  see(id: string, seen: { snapshot?: SessionSnapshot; logic?: string }): void;
  /**
   * Routes an operation from this node, activating the session here when nobody owns it, under
   * the idempotency ID the asking node gave it (`tried`: attempts it made under that ID).
   */
  route(req: RouteRequest, ttlMs: number, rid?: string, tried?: number): Promise<ReplyBody>;
  /** How long a node waits for another node's answer, ms. */
  waitMs: number;
}

/** A status answer: where the owner runs it, with its snapshot (the asker keeps it). */
interface StatusAnswer {
  v: SessionPresence;
  x?: SessionSnapshot;
  l?: string;
}

/**
 * @internal What makes the cluster look like one system from any node: where a session is
 * (`status`), the sessions of every node (`listAll`, for the visualizer), and operations a draining
 * node hands to a node that still activates sessions (`forward`). Each asks other nodes over their
 * query channels ({@link NodeQueries}); none activates, restores or touches a session.
 */
export class ClusterWide {
  readonly queries: NodeQueries;
  readonly #p: ClusterWideParts;
  #next = 0;
  /** Every node registered in Redis, as last read (see {@link refreshNodes}). */
  #registered: string[] = [];
  #registeredAt = Number.NEGATIVE_INFINITY;

  constructor(parts: ClusterWideParts) {
    this.#p = parts;
    this.queries = new NodeQueries(parts.redis, parts.keys, parts.nodeId, (q) => this.#answer(q));
  }

  /** Where session `id` is, from any node, with no side effect on it. */
  async status(id: string): Promise<SessionPresence> {
    const { local, nodeId } = this.#p;
    if (local.started(id)) return 'running';
    const found = await presence(this.#p.redis, this.#p.keys, id);
    if (found.rotated) return 'rotated';
    if (found.owner !== undefined && found.owner !== nodeId) {
      const a = await this.queries.ask<StatusAnswer>(
        found.owner,
        { q: 'status', id },
        this.#p.waitMs,
      );
      if (a?.v === 'running') {
        // Its current snapshot comes along: `snapshot(id)` here reads it (the Koa middleware's
        // request handler does, right after).
        this.#p.see(id, { ...(a.x ? { snapshot: a.x } : {}), ...(a.l ? { logic: a.l } : {}) });
        return 'running';
      }
    } else if (local.started(id)) return 'running';
    return found.stored ? 'stored' : 'absent';
  }

  /**
   * The sessions in memory on every live node, merged in start order: each node sends its first
   * `offset + limit` rows; a node that does not answer within `waitMs` is left out of this page.
   */
  async listAll(options: ListOptions = {}): Promise<SessionPage> {
    const offset = Math.max(0, options.offset ?? 0);
    const limit = Math.max(0, options.limit ?? Number.POSITIVE_INFINITY);
    const want = Math.min(MAX_LIST_ROWS, offset + limit);
    const own: SessionPage = {
      total: this.#p.local.count,
      rows: this.#p.local.list({ limit: want }),
    };
    await this.refreshNodes(0);
    const others = this.#others();
    const pages = await Promise.all(
      others.map((n) =>
        this.queries.ask<SessionPage>(n, { q: 'list', limit: want }, this.#p.waitMs),
      ),
    );
    let total = own.total;
    const rows: SessionInfo[] = [...own.rows];
    for (const page of pages) {
      if (!page || !Array.isArray(page.rows)) continue;
      total += Number(page.total) || 0;
      rows.push(...page.rows);
    }
    rows.sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { total, rows: rows.slice(offset, offset + limit) };
  }

  /**
   * Reads the nodes registered in Redis when the last read is older than `maxAgeMs`: the node's
   * list of live nodes comes with its renewals, so a node that started a moment ago is missing
   * from it (a node that is gone answers nothing, at once: asking it costs a publish).
   */
  async refreshNodes(maxAgeMs = 1_000): Promise<void> {
    if (performance.now() - this.#registeredAt < maxAgeMs) return;
    try {
      this.#registered = await this.#p.redis.zrange(this.#p.keys.nodes, 0, -1);
      this.#registeredAt = performance.now();
    } catch {
      // the renewals' list only
    }
  }

  /** The other nodes, registered or live as of the last renewal. */
  #others(): string[] {
    const all = new Set([...this.#registered, ...this.#p.liveNodes()]);
    all.delete(this.#p.nodeId);
    return [...all];
  }

  /** Whether another node could take this node's operations (see {@link forward}). */
  canForward(): boolean {
    return this.#others().length > 0;
  }

  /**
   * Hands an operation to another live node, which routes it as its own (activating the session
   * there when nobody owns it): its answer, `undefined` when no other node is live or every one
   * tried was gone. A node that took the question but did not answer in time is not asked again
   * (it may have applied it): the operation times out. The operation keeps its idempotency ID
   * (`rid`, with the attempts made under it, `tried`): an attempt this node made before (its
   * fast path, whose session left while the call waited for its save) is not applied twice.
   */
  async forward(
    req: RouteRequest,
    ttlMs: number,
    rid?: string,
    tried = 0,
  ): Promise<ReplyBody | undefined> {
    await this.refreshNodes();
    const others = this.#others();
    for (let i = 0; i < others.length; i++) {
      const to = others[this.#next++ % others.length]!;
      const a = await this.queries.send<ReplyBody>(
        to,
        { q: 'op', req, ttlMs, ...(rid === undefined ? {} : { rid, tried }) },
        ttlMs + this.#p.waitMs,
      );
      if ('value' in a && a.value) return a.value;
      if ('reached' in a && a.reached)
        return { err: toWire(new CallTimeoutError(req.id, req.event?.type ?? req.op, ttlMs)) };
    }
    return undefined;
  }

  async #answer(query: NodeQuery): Promise<unknown> {
    const local = this.#p.local;
    switch (query.q) {
      case 'status': {
        if (typeof query.id !== 'string' || !local.started(query.id)) return { v: 'absent' };
        const s = local.snapshot(query.id);
        const answer: StatusAnswer = {
          v: 'running',
          x: { value: s.value, context: s.context, status: s.status, version: s.version },
        };
        const logic = local.get(query.id)?.logic;
        if (logic !== undefined) answer.l = logic;
        return answer;
      }
      case 'list': {
        const limit = Math.min(MAX_LIST_ROWS, Math.max(0, Number(query.limit) || 0));
        return { total: local.count, rows: local.list({ limit }) } satisfies SessionPage;
      }
      case 'op': {
        const ttlMs = Math.min(60_000, Math.max(1, Number(query.ttlMs) || 0));
        try {
          const rid = typeof query.rid === 'string' ? query.rid : undefined;
          const tried = Math.min(100, Math.max(0, Number(query.tried) || 0));
          return await this.#p.route(query.req as RouteRequest, ttlMs, rid, tried);
        } catch (err) {
          return { err: toWire(err) } satisfies ReplyBody;
        }
      }
    }
    return undefined;
  }
}
