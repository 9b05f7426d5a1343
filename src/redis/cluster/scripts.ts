import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * The cluster's Lua scripts. Each one is a single atomic step in Redis: that is what makes a
 * lease check and the write it guards one decision, not two (a node paused between a check and
 * a write would otherwise write after losing its lease).
 *
 * Scripts read keys they compute (the owner's node key from an owner record), which a Redis
 * Cluster would refuse: the cluster mode needs one Redis (or a primary with replicas).
 *
 * Owner records and fencing tokens read `node|incarnation|counter`: the incarnation is random per
 * node lease (so a token never repeats, even when Redis loses a counter), the counter distinguishes
 * acquisitions within one incarnation.
 */

/** @internal A script run by EVALSHA, loaded on NOSCRIPT (after a Redis restart, say). */
export class Script {
  readonly #source: string;
  readonly #sha: string;
  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash('sha1').update(source).digest('hex');
  }
  async run(
    redis: Redis,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<any> {
    try {
      return await redis.evalsha(this.#sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error)?.message).includes('NOSCRIPT')) throw err;
      return redis.eval(this.#source, keys.length, ...keys, ...args);
    }
  }
}

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Registers a node: creates the epoch when there is none, drops the node's previous incarnation
 * (its sessions were stopped already), takes the node key (NX: a live process with the same node
 * ID keeps it), lists the node.
 * KEYS: node key, epoch, nodes. ARGV: incarnation, leaseMs, proposed epoch, node ID, previous
 * incarnation ('' for none).
 * Returns `{ 1 | 0 (node ID busy), epoch, created (1 when this call created the epoch) }`.
 */
export const REGISTER = new Script(`
if ARGV[5] ~= '' and redis.call('GET', KEYS[1]) == ARGV[5] then redis.call('DEL', KEYS[1]) end
local e = redis.call('GET', KEYS[2])
local created = 0
if not e then redis.call('SET', KEYS[2], ARGV[3]); e = ARGV[3]; created = 1 end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {0, e, created} end
${NOW_MS}
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[4])
return {1, e, created}
`);

/**
 * Renews a node's lease, if it still holds it under the epoch it knows.
 * KEYS: node key, epoch, nodes. ARGV: incarnation, leaseMs, epoch, node ID.
 * Returns `{ 1, live node IDs }`, `{ -1, holder }` (lease lost) or `{ -2, epoch }` (epoch changed
 * or vanished: Redis lost its data).
 */
export const RENEW = new Script(`
local e = redis.call('GET', KEYS[2])
if e ~= ARGV[3] then return {-2, e or ''} end
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] then return {-1, cur or ''} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
${NOW_MS}
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
return {1, redis.call('ZRANGE', KEYS[3], 0, -1)}
`);

/**
 * Takes a session's ownership unless a live node holds it.
 * KEYS: owner key, own node key. ARGV: node-key prefix, new token, own incarnation, own node ID,
 * a node the caller found gone ('' for none), channel prefix.
 * A node counts as gone before its lease lapses when the caller says so (a publish to it reached
 * nobody) and Redis confirms that nothing listens on its channel: its process is dead, or it lost
 * its subscriber connection, which makes it stop its sessions at once. Its node key is dropped
 * then, freeing all its sessions.
 * Returns `{ 1, token }` (already ours), `{ 2, token, previous record or '' }` (acquired),
 * `{ 0, record }` (a live node owns it) or `{ -1 }` (our own lease is gone).
 */
export const ACQUIRE = new Script(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local node, inc = string.match(cur, '^(.-)|(.-)|')
  if node == ARGV[4] and inc == ARGV[3] then return {1, cur} end
  if node and redis.call('GET', ARGV[1] .. node) == inc then
    if ARGV[5] == node and redis.call('PUBSUB', 'NUMSUB', ARGV[6] .. node)[2] == 0 then
      redis.call('DEL', ARGV[1] .. node)
    else
      return {0, cur}
    end
  end
end
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return {-1} end
redis.call('SET', KEYS[1], ARGV[2])
return {2, ARGV[2], cur or ''}
`);

/** Gives a session's ownership up. KEYS: owner key. ARGV: token. Returns 1 when released. */
export const RELEASE = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/**
 * The fenced group commit: each write is applied only when the session's owner record still holds
 * this node's token (and the node's lease is live), and the stored version is the expected one.
 * KEYS: own node key, due index, then per write: owner key, record key, applied key.
 * ARGV: incarnation, applied TTL ms, then per write: id, token, version, expected, data, dueAt
 * ('' for none), applied request IDs (space-separated, '' for none).
 * Returns per write 'ok', 'conflict' or 'fenced'.
 */
export const SAVE = new Script(`
local out = {}
local alive = redis.call('GET', KEYS[1]) == ARGV[1]
local n = (#KEYS - 2) / 3
for i = 0, n - 1 do
  local o, s, a = KEYS[3 + i * 3], KEYS[4 + i * 3], KEYS[5 + i * 3]
  local b = 3 + i * 7
  local id, token, ver, exp, data, due, rids =
    ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6]
  if not alive or redis.call('GET', o) ~= token then
    out[i + 1] = 'fenced'
  else
    local cur = tonumber(redis.call('HGET', s, 'v') or '0')
    if cur ~= tonumber(exp) then
      out[i + 1] = 'conflict'
    else
      redis.call('HSET', s, 'v', ver, 'd', data)
      if due == '' then
        redis.call('HDEL', s, 'due')
        redis.call('ZREM', KEYS[2], id)
      else
        redis.call('HSET', s, 'due', due)
        redis.call('ZADD', KEYS[2], tonumber(due), id)
      end
      if rids ~= '' then
        for rid in string.gmatch(rids, '%S+') do redis.call('HSETNX', a, rid, '') end
        redis.call('PEXPIRE', a, ARGV[2])
      end
      out[i + 1] = 'ok'
    end
  end
end
return out
`);

/**
 * Deletes a session's record and its owner record (the session ended: nothing to own), only by
 * its owner. KEYS: owner key, record key, applied key, due index. ARGV: token, id. Returns 1 when
 * deleted.
 */
export const DELETE = new Script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[2])
return 1
`);

/**
 * Quarantines a session's record (it cannot be restored): kept, out of the due index, listed in
 * the quarantine index. KEYS: record key, due index, quarantine index. ARGV: version, at, reason,
 * id. Returns 1 when quarantined, 0 when the record is gone, changed or already quarantined.
 */
export const QUARANTINE = new Script(`
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[1], 'q') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'q', ARGV[2], 'r', ARGV[3])
redis.call('HDEL', KEYS[1], 'due')
redis.call('ZREM', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[4])
return 1
`);

/**
 * Deletes a quarantined record, whoever owns the session (nobody runs it: it cannot be restored,
 * and no write lands on it). KEYS: record key, owner key, applied key, due index, quarantine
 * index. ARGV: id. Returns 1 when deleted, 0 when the record is not quarantined.
 */
export const DELETE_QUARANTINED = new Script(`
if redis.call('HEXISTS', KEYS[1], 'q') == 0 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
return 1
`);

/**
 * Sessions due for waking that this node owns or may take (their owner is gone), taken for it.
 * KEYS: due index, own node key. ARGV: until, limit, node-key prefix, own incarnation, own node ID,
 * owner-key prefix, token prefix (\`node|incarnation|\`), first counter.
 * Returns a flat list: id, dueAt, token, ...
 */
export const DUE = new Script(`
if redis.call('GET', KEYS[2]) ~= ARGV[4] then return {} end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]) * 4)
local out = {}
local counter = tonumber(ARGV[8])
local taken = 0
for i = 1, #ids, 2 do
  if taken >= tonumber(ARGV[2]) then break end
  local id = ids[i]
  local okey = ARGV[6] .. id
  local cur = redis.call('GET', okey)
  local mine = false
  if cur then
    local node, inc = string.match(cur, '^(.-)|(.-)|')
    if node == ARGV[5] and inc == ARGV[4] then mine = true
    elseif node and redis.call('GET', ARGV[3] .. node) == inc then cur = nil; mine = nil end
  end
  if mine == true then
    out[#out + 1] = id; out[#out + 1] = ids[i + 1]; out[#out + 1] = cur; taken = taken + 1
  elseif mine == false then
    local token = ARGV[7] .. counter
    counter = counter + 1
    redis.call('SET', okey, token)
    out[#out + 1] = id; out[#out + 1] = ids[i + 1]; out[#out + 1] = token; taken = taken + 1
  end
end
return out
`);

/** Removes a node on shutdown. KEYS: node key, nodes. ARGV: incarnation, node ID. */
export const UNREGISTER = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
`);

/** Stores the reply of an applied request. KEYS: applied key. ARGV: request ID, reply, TTL ms. */
export const RECORD_REPLY = new Script(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`);
