import { SessionRotatedError } from '../../index.js';
import type { Redis } from 'ioredis';
import type {
  DueSession,
  QuarantinedSession,
  SessionStore,
  StoredSession,
  StoreWrite,
  StoreWriteResult,
} from '../../index.js';
import { APPLIED_TTL_MS, type ClusterKeys } from './keys.js';
import type { NodeLease } from './NodeLease.js';
import type { Ownership } from './Ownership.js';
import { globEscape, scanVersions } from '../store/scanVersions.js';
import { DELETE, DELETE_QUARANTINED, DUE, QUARANTINE, SAVE } from './scripts.js';
import type { ClusterFaultHooks } from './faults.js';

/** @internal What the fenced store reports besides its results. */
export interface FencedStoreHooks {
  /** A write was refused because this node no longer holds the session's token. */
  onFenced(id: string): void;
  /** Request IDs applied to `id` since its last write, to be recorded with the next one. */
  takeApplied(id: string): string[];
  /** Whether the session is in this node's memory now. */
  resident(id: string): boolean;
  /** Tests only: write without checking the token (to show that the checker catches a fork). */
  unfenced: boolean;
  /** Tests only: fault injection (a stall right after a write is sent). */
  faults?: ClusterFaultHooks;
}

/**
 * @internal The node's {@link SessionStore}: records in Redis, every write checked against the
 * session's fencing token in the same Lua script that compares the version and writes, so a node
 * that lost a session (paused past its lease, partitioned) cannot overwrite the new owner's state.
 * A refused write reports `'conflict'` to the supervisor.
 */
export function fencedStore(
  redis: Redis,
  keys: ClusterKeys,
  lease: NodeLease,
  ownership: Ownership,
  hooks: FencedStoreHooks,
): SessionStore {
  return {
    name: 'redis-cluster',
    async load(id): Promise<StoredSession | undefined> {
      const loading = redis.multi().hgetall(keys.record(id)).exists(keys.rotated(id)).exec();
      hooks.faults?.afterLoadSent?.(id);
      const [[, h], [, rotated]] = (await loading) as [
        [unknown, Record<string, string>],
        [unknown, number],
      ];
      // Rotated away on some node a moment ago: a request of the same browser still carrying it
      // gets SESSION_ROTATED here too, never a fresh session under the old ID.
      if (rotated) throw new SessionRotatedError(id);
      if (h.v === undefined || h.d === undefined) return undefined;
      const stored = {
        id,
        version: Number(h.v),
        data: h.d,
        dueAt: h.due === undefined ? null : Number(h.due),
      };
      if (h.q === undefined) return stored;
      return { ...stored, quarantine: { at: Number(h.q), reason: h.r ?? '' } };
    },
    async save(writes: readonly StoreWrite[]): Promise<StoreWriteResult[]> {
      const results: StoreWriteResult[] = new Array(writes.length).fill('conflict');
      const k: string[] = [keys.node(lease.nodeId), keys.due];
      const a: (string | number)[] = [lease.incarnation, APPLIED_TTL_MS];
      const sent: number[] = [];
      writes.forEach((w, i) => {
        let token = ownership.tokens.get(w.id);
        if (hooks.unfenced) token ??= '';
        if (token === undefined) {
          hooks.onFenced(w.id);
          return;
        }
        sent.push(i);
        k.push(keys.owner(w.id), keys.record(w.id), keys.applied(w.id));
        a.push(
          w.id,
          token,
          w.version,
          w.expectedVersion,
          w.data,
          w.dueAt === null ? '' : w.dueAt,
          hooks.takeApplied(w.id).join(' '),
        );
      });
      if (sent.length === 0) return results;
      // The command is on its way to Redis once `run` returns its promise.
      const sending = hooks.unfenced ? unfencedSave(redis, k, a) : SAVE.run(redis, k, a);
      const stall = hooks.faults?.afterWriteSent;
      if (stall) stall(sent.map((i) => writes[i]!.id));
      const out = (await sending) as string[];
      out.forEach((r, j) => {
        const i = sent[j]!;
        if (r === 'ok') results[i] = 'ok';
        else if (r === 'fenced') hooks.onFenced(writes[i]!.id);
      });
      return results;
    },
    async delete(id): Promise<void> {
      const token = ownership.tokens.get(id);
      if (token === undefined) {
        // A quarantined record (past its retention, or forgotten) goes whoever holds its lease.
        await DELETE_QUARANTINED.run(
          redis,
          [keys.record(id), keys.owner(id), keys.applied(id), keys.due, keys.quarantined],
          [id],
        );
        return;
      }
      await DELETE.run(
        redis,
        [keys.owner(id), keys.record(id), keys.applied(id), keys.due],
        [token, id],
      );
      // Ownership ends with the record (unless the session came back meanwhile: a new start).
      if (ownership.tokens.get(id) === token && !hooks.resident(id)) ownership.tokens.delete(id);
    },
    async due(until, limit): Promise<DueSession[]> {
      if (!lease.valid()) return [];
      const inc = lease.incarnation;
      const generation = ownership.generation;
      const { prefix, first } = ownership.reserve(limit);
      const flat = (await DUE.run(
        redis,
        [keys.due, keys.node(lease.nodeId)],
        [
          until,
          limit,
          keys.node(''),
          lease.incarnation,
          lease.nodeId,
          keys.owner(''),
          prefix,
          first,
        ],
      )) as string[];
      // Taken under a lease lost meanwhile: those tokens are worthless (see Ownership.taking);
      // the sessions are due again for whichever node looks next.
      if (!ownership.taking(inc, generation)) return [];
      const out: DueSession[] = [];
      for (let i = 0; i + 2 < flat.length; i += 3) {
        // Taken now (not already ours): its watchers, wherever they are, watch again.
        if (ownership.tokens.get(flat[i]!) !== flat[i + 2]) ownership.moved(flat[i]!);
        ownership.tokens.set(flat[i]!, flat[i + 2]!);
        out.push({ id: flat[i]!, dueAt: Number(flat[i + 1]) });
      }
      return out;
    },
    versions: () => scanVersions(redis, `${globEscape(keys.record(''))}*`),
    async quarantine(id, version, marker) {
      const keysOf = [keys.record(id), keys.due, keys.quarantined];
      const reply = await QUARANTINE.run(redis, keysOf, [version, marker.at, marker.reason, id]);
      return reply === 1 ? 'ok' : 'conflict';
    },
    async quarantined(limit): Promise<QuarantinedSession[]> {
      if (limit <= 0) return [];
      const flat = await redis.zrange(keys.quarantined, 0, limit - 1, 'WITHSCORES');
      const out: QuarantinedSession[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const reason = await redis.hget(keys.record(flat[i]!), 'r');
        // Deleted since (the index entry outlives the record): not listed, and dropped.
        if (reason === null) await redis.zrem(keys.quarantined, flat[i]!);
        else out.push({ id: flat[i]!, quarantinedAt: Number(flat[i + 1]), reason });
      }
      return out;
    },
    async close(): Promise<void> {},
  };
}

/** Tests only: the same writes with the version check but no token check (fencing off). */
async function unfencedSave(
  redis: Redis,
  k: readonly string[],
  a: readonly (string | number)[],
): Promise<string[]> {
  const out: string[] = [];
  for (let j = 0; 2 + j * 3 < k.length; j++) {
    const b = 2 + j * 7;
    const [id, , ver, exp, data, due] = a.slice(b, b + 6);
    const rec = k[3 + j * 3]!;
    const cur = Number((await redis.hget(rec, 'v')) ?? 0);
    if (cur !== Number(exp)) {
      out.push('conflict');
      continue;
    }
    await redis.hset(rec, 'v', String(ver), 'd', String(data));
    if (due === '') await redis.zrem(k[1]!, String(id));
    else await redis.zadd(k[1]!, Number(due), String(id));
    out.push('ok');
  }
  return out;
}
