import type { Redis } from 'ioredis';
import type { ClusterKeys } from './keys.js';
import { Script } from './scripts.js';

/**
 * Where a session is, read in one step: its owner when that node's lease is live, whether its ID
 * was rotated away, whether the store holds it. Reads only.
 * KEYS: owner key, rotated key, record key. ARGV: node-key prefix.
 * Returns `{ live owner's node ID or '', rotated 0|1, stored 0|1 }`.
 */
const PRESENCE = new Script(`
local cur = redis.call('GET', KEYS[1])
local owner = ''
if cur then
  local node, inc = string.match(cur, '^(.-)|(.-)|')
  if node and redis.call('GET', ARGV[1] .. node) == inc then owner = node end
end
return {owner, redis.call('EXISTS', KEYS[2]), redis.call('HEXISTS', KEYS[3], 'd')}
`);

/** @internal What {@link presence} finds. */
export interface Presence {
  /** The node that owns the session under a live lease, if any. */
  owner: string | undefined;
  rotated: boolean;
  stored: boolean;
}

/** @internal Where session `id` is, as far as Redis knows (no side effect). */
export async function presence(redis: Redis, keys: ClusterKeys, id: string): Promise<Presence> {
  const [owner, rotated, stored] = (await PRESENCE.run(
    redis,
    [keys.owner(id), keys.rotated(id), keys.record(id)],
    [keys.node('')],
  )) as [string, number, number];
  return { owner: owner === '' ? undefined : owner, rotated: rotated === 1, stored: stored === 1 };
}

/**
 * A fixed window per key, shared by every node: counts one start, answers 0 when it is within
 * `limit`, else the milliseconds until the window closes. The window opens with its first start,
 * as the Koa middleware's in-process one does.
 * KEYS: window key. ARGV: limit, intervalMs.
 */
const TAKE = new Script(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n <= tonumber(ARGV[1]) then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
if ttl < 1 then ttl = 1 end
return ttl
`);

/** @internal Takes a start from the shared window of `client`: 0, or the ms to wait. */
export async function takeSharedStart(
  redis: Redis,
  keys: ClusterKeys,
  client: string,
  limit: number,
  intervalMs: number,
): Promise<number> {
  const key = `${keys.prefix}cs:${limit}:${intervalMs}:${client}`;
  return Number(await TAKE.run(redis, [key], [limit, intervalMs]));
}
