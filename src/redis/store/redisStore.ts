import { debuglog } from 'node:util';
import { type Cluster, Redis } from 'ioredis';
import type {
  DueSession,
  QuarantinedSession,
  SessionStore,
  StoredSession,
  StoreWrite,
  StoreWriteResult,
} from '../../index.js';
import { type Bounded, bounded } from './bounded.js';
import { DEFAULT_PREFIX, dueKey, FIELD, quarantineKey, recordKey } from './keys.js';
import { globEscape, scanVersions } from './scanVersions.js';
import {
  COMMAND,
  DELETE,
  QUARANTINE,
  QUARANTINE_RECORD,
  SAVE,
  SAVE_RECORD,
  UNINDEX_IF,
} from './scripts.js';

const debug = debuglog('session-process');

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /**
   * An ioredis client (`Redis` or `Cluster`), which the store uses but does not close; or a
   * Redis URL, from which the store creates a client that it closes on `close()`.
   */
  redis: Redis | Cluster | string;
  /**
   * Prefix of every key: records are `${prefix}{${id}}`, the due index `${prefix}due`. Give each
   * application (and each test) its own.
   * @default 'sp:'
   */
  prefix?: string;
  /**
   * The longest any operation waits for Redis, connecting included, before it rejects (the
   * supervisor then reports `STORE_UNAVAILABLE`). Nothing waits longer, whatever the client's
   * offline queue and retry options.
   * @default 2_000
   */
  commandTimeoutMs?: number;
  /**
   * How the due-time index is kept. `'atomic'`: in the same script as each record, exact; works
   * on a single Redis (and with Sentinel). `'hint'`: for Redis Cluster, where the index cannot
   * share a slot with every session: it is updated around each record's write (lowered before,
   * set after), so it is never later than a record's due time, and `due()` checks every entry
   * against its record and repairs stale ones. Either way the supervisor re-checks a woken
   * session's record.
   * @default 'hint' for a `Cluster` client, else 'atomic'
   */
  dueIndex?: 'atomic' | 'hint';
}

/** The {@link SessionStore} that {@link redisStore} returns. */
export interface RedisSessionStore extends SessionStore {
  readonly name: 'redis';
  /** The client in use (the given one, or the one created from the URL). */
  readonly redis: Redis | Cluster;
  /** The key prefix in use. */
  readonly prefix: string;
}

/** The commands the store defines on the client. */
interface StoreCommands {
  [COMMAND.save](
    record: string,
    due: string,
    expected: string,
    version: string,
    data: string,
    dueAt: string,
    id: string,
  ): Promise<number>;
  [COMMAND.saveRecord](
    record: string,
    expected: string,
    version: string,
    data: string,
    dueAt: string,
  ): Promise<number>;
  [COMMAND.delete](record: string, due: string, quarantined: string, id: string): Promise<number>;
  [COMMAND.quarantine](
    record: string,
    due: string,
    quarantined: string,
    version: string,
    at: string,
    reason: string,
    id: string,
  ): Promise<number>;
  [COMMAND.quarantineRecord](
    record: string,
    version: string,
    at: string,
    reason: string,
  ): Promise<number>;
  [COMMAND.unindexIf](due: string, id: string, score: string): Promise<number>;
}

/**
 * A {@link SessionStore} in Redis (ioredis): one hash per session under a hash-tagged key, so
 * it works on Redis Cluster; each write is a Lua script that checks the version it replaces; a
 * `save` batch goes out as one pipeline; a sorted set indexes due times. Every operation answers
 * or rejects within `commandTimeoutMs`, Redis down or not.
 *
 * Durable only as far as Redis is: with `appendonly yes` and `appendfsync always` an
 * acknowledged write survives a Redis crash; with `everysec`, up to a second of writes may be
 * lost; without AOF, everything since the last RDB snapshot.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createSessionSupervisor } from 'session-process';
 * import { redisStore } from 'session-process/redis';
 * const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
 * const sessions = createSessionSupervisor({
 *   logics: { cart: cartMachine },
 *   store: redisStore({ redis, prefix: 'shop:' }),
 *   durability: 'durable',
 * });
 * ```
 */
export function redisStore(options: RedisStoreOptions): RedisSessionStore {
  const owned = typeof options.redis === 'string';
  const redis =
    typeof options.redis === 'string'
      ? new Redis(options.redis, {
          lazyConnect: true,
          // Commands in flight when the connection drops fail instead of being resent later.
          maxRetriesPerRequest: 0,
        })
      : options.redis;
  // A client without an 'error' listener prints every reconnect failure; ours reports to debug.
  if (owned) redis.on('error', (err: Error) => debug('redisStore: %s', err.message));
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const timeoutMs = options.commandTimeoutMs ?? 2_000;
  const hint = (options.dueIndex ?? (redis.isCluster ? 'hint' : 'atomic')) === 'hint';
  const due = dueKey(prefix);
  const quarantinedKey = quarantineKey(prefix);
  const key = (id: string) => recordKey(prefix, id);

  redis.defineCommand(COMMAND.save, { numberOfKeys: 2, lua: SAVE });
  redis.defineCommand(COMMAND.saveRecord, { numberOfKeys: 1, lua: SAVE_RECORD });
  redis.defineCommand(COMMAND.delete, { numberOfKeys: 3, lua: DELETE });
  redis.defineCommand(COMMAND.quarantine, { numberOfKeys: 3, lua: QUARANTINE });
  redis.defineCommand(COMMAND.quarantineRecord, { numberOfKeys: 1, lua: QUARANTINE_RECORD });
  redis.defineCommand(COMMAND.unindexIf, { numberOfKeys: 1, lua: UNINDEX_IF });
  const commands = redis as unknown as StoreCommands;
  const run: Bounded = bounded(redis, timeoutMs);

  let closed = false;
  const open = () => {
    if (closed) throw new Error('redisStore: the store is closed');
  };

  const saveAtomic = async (writes: readonly StoreWrite[]): Promise<StoreWriteResult[]> => {
    const pipeline = redis.pipeline() as unknown as StoreCommands & {
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    for (const w of writes)
      pipeline[COMMAND.save](
        key(w.id),
        due,
        String(w.expectedVersion),
        String(w.version),
        w.data,
        w.dueAt === null ? '' : String(w.dueAt),
        w.id,
      );
    const replies = await pipeline.exec();
    if (!replies) throw new Error('redisStore: the pipeline was discarded');
    return replies.map(([err, reply]) => {
      if (err) throw err;
      return reply === 1 ? 'ok' : 'conflict';
    });
  };

  // Redis Cluster: lower the index entry first (ZADD LT), so that whatever happens later the
  // index is never later than the record; then the record's compare-and-set; then the exact
  // entry. A crash between the steps leaves an early entry, which due() repairs.
  const saveHinted = async (w: StoreWrite): Promise<StoreWriteResult> => {
    const dueAt = w.dueAt === null ? '' : String(w.dueAt);
    if (w.dueAt !== null) await redis.zadd(due, 'LT', w.dueAt, w.id);
    const reply = await commands[COMMAND.saveRecord](
      key(w.id),
      String(w.expectedVersion),
      String(w.version),
      w.data,
      dueAt,
    );
    if (reply !== 1) return 'conflict';
    if (w.dueAt === null) await redis.zrem(due, w.id);
    else await redis.zadd(due, w.dueAt, w.id);
    return 'ok';
  };

  const saveHint = async (writes: readonly StoreWrite[]): Promise<StoreWriteResult[]> => {
    // Different sessions in parallel (different slots, so no pipeline); one session's in order.
    const tails = new Map<string, Promise<unknown>>();
    const results = writes.map((w) => {
      const result = (tails.get(w.id) ?? Promise.resolve()).then(() => saveHinted(w));
      tails.set(
        w.id,
        result.catch(() => {}),
      );
      return result;
    });
    return Promise.all(results);
  };

  const loadDueAt = async (id: string): Promise<number | null> => {
    const t = await redis.hget(key(id), FIELD.dueAt);
    return t === null ? null : Number(t);
  };

  // Redis Cluster: an index entry is a hint; the record decides. A stale entry (record gone,
  // timer cleared or moved later) is removed if nobody moved it meanwhile, then put back from
  // the record as read after the removal, so a concurrent write's entry is never lost.
  const dueHint = async (until: number, limit: number): Promise<DueSession[]> => {
    const found = new Map<string, number>();
    for (let round = 0; round < 8 && found.size < limit; round++) {
      const entries = await redis.zrangebyscore(
        due,
        '-inf',
        until,
        'WITHSCORES',
        'LIMIT',
        0,
        limit + found.size,
      );
      let stale = 0;
      await Promise.all(
        pairs(entries).map(async ([id, score]) => {
          if (found.has(id)) return;
          const dueAt = await loadDueAt(id);
          if (dueAt !== null && dueAt <= until) {
            found.set(id, dueAt);
            return;
          }
          stale++;
          await commands[COMMAND.unindexIf](due, id, score);
          const after = await loadDueAt(id);
          if (after !== null) await redis.zadd(due, 'LT', after, id);
        }),
      );
      if (stale === 0) break;
    }
    return [...found]
      .map(([id, dueAt]) => ({ id, dueAt }))
      .sort((a, b) => a.dueAt - b.dueAt)
      .slice(0, limit);
  };

  return {
    name: 'redis',
    redis,
    prefix,
    async load(id): Promise<StoredSession | undefined> {
      open();
      const [version, dueAt, data, quarantinedAt, reason] = await run('load', () =>
        redis.hmget(
          key(id),
          FIELD.version,
          FIELD.dueAt,
          FIELD.data,
          FIELD.quarantinedAt,
          FIELD.quarantineReason,
        ),
      );
      if (version === null || version === undefined || data === null || data === undefined)
        return undefined;
      const stored = { id, version: Number(version), data, dueAt: dueAt ? Number(dueAt) : null };
      if (quarantinedAt === null || quarantinedAt === undefined) return stored;
      return { ...stored, quarantine: { at: Number(quarantinedAt), reason: reason ?? '' } };
    },
    async save(writes): Promise<StoreWriteResult[]> {
      open();
      if (writes.length === 0) return [];
      return run('save', () => (hint ? saveHint(writes) : saveAtomic(writes)));
    },
    async delete(id) {
      open();
      await run('delete', async () => {
        if (!hint) return commands[COMMAND.delete](key(id), due, quarantinedKey, id);
        await redis.del(key(id));
        await redis.zrem(due, id);
        await redis.zrem(quarantinedKey, id);
      });
    },
    async quarantine(id, version, marker) {
      open();
      const [v, at, reason] = [String(version), String(marker.at), marker.reason];
      return run('quarantine', async () => {
        if (!hint) {
          const reply = await commands[COMMAND.quarantine](
            key(id),
            due,
            quarantinedKey,
            v,
            at,
            reason,
            id,
          );
          return reply === 1 ? 'ok' : 'conflict';
        }
        // Redis Cluster: the record first; a due entry left by a crash in between is stale
        // (the record has no due time) and due() drops it.
        if ((await commands[COMMAND.quarantineRecord](key(id), v, at, reason)) !== 1)
          return 'conflict';
        await redis.zrem(due, id);
        await redis.zadd(quarantinedKey, at, id);
        return 'ok';
      });
    },
    async quarantined(limit): Promise<QuarantinedSession[]> {
      open();
      if (limit <= 0) return [];
      return run('quarantined', async () => {
        const entries = pairs(await redis.zrange(quarantinedKey, 0, limit - 1, 'WITHSCORES'));
        const reasons = await Promise.all(
          entries.map(([id]) => redis.hget(key(id), FIELD.quarantineReason)),
        );
        const out: QuarantinedSession[] = [];
        entries.forEach(([id, score], i) => {
          const reason = reasons[i];
          // Deleted meanwhile (or, on Redis Cluster, before its index entry went): not listed.
          if (reason === null || reason === undefined) return;
          out.push({ id, quarantinedAt: Number(score), reason });
        });
        return out;
      });
    },
    async due(until, limit): Promise<DueSession[]> {
      open();
      if (limit <= 0) return [];
      return run('due', async () => {
        if (hint) return dueHint(until, limit);
        const entries = await redis.zrangebyscore(
          due,
          '-inf',
          until,
          'WITHSCORES',
          'LIMIT',
          0,
          limit,
        );
        return pairs(entries).map(([id, score]) => ({ id, dueAt: Number(score) }));
      });
    },
    async versions() {
      open();
      return scanVersions(redis, `${globEscape(prefix)}{*}`, (op) => run('versions', op));
    },
    async close() {
      if (closed) return;
      closed = true;
      if (!owned) return;
      if (redis.status === 'end') return;
      const ended = new Promise((resolve) => redis.once('end', resolve));
      const within = (ms: number) =>
        Promise.race([ended, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
      // quit() lets commands in flight finish; a Redis that is down never answers it, so it gets
      // the same bound as any command, then the connection is dropped. (ioredis emits no 'end'
      // for a client disconnected between reconnect attempts: hence the bounds.)
      if (redis.status === 'ready') {
        redis.quit().catch(() => {});
        await within(timeoutMs);
      }
      // (status changes under us: TypeScript narrowed it from the check above)
      if ((redis.status as string) !== 'end') {
        redis.disconnect();
        await within(100);
      }
    },
  };
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}
