/**
 * Lua scripts of the Redis store, registered with ioredis' `defineCommand` (EVALSHA, falling
 * back to EVAL once per connection). Versions are compared as the decimal strings the store
 * writes, so no float conversion touches them. Internal to the Redis store.
 */

/**
 * @internal
 * Commands the store defines on the client (names chosen not to clash with a user's).
 */
export const COMMAND = {
  save: 'sessionProcessSave',
  saveRecord: 'sessionProcessSaveRecord',
  delete: 'sessionProcessDelete',
  unindexIf: 'sessionProcessUnindexIf',
  quarantine: 'sessionProcessQuarantine',
  quarantineRecord: 'sessionProcessQuarantineRecord',
} as const;

// KEYS[1] record, KEYS[2] due index; ARGV expectedVersion, version, data, dueAt ('' = none), id.
// The record and its index entry change together: on a single Redis (any number of slots) the
// index is exact.
export const SAVE = `
local current = redis.call('HGET', KEYS[1], 'v')
if (current or '0') ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[1], 'q') == 1 then return 0 end
if ARGV[4] == '' then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
  redis.call('HDEL', KEYS[1], 't')
  redis.call('ZREM', KEYS[2], ARGV[5])
else
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 't', ARGV[4], 'd', ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
end
return 1
`;

// The same compare-and-set on the record alone, for Redis Cluster, where the index lives in
// another slot and is updated around this script (see redisStore's 'hint' mode).
export const SAVE_RECORD = `
local current = redis.call('HGET', KEYS[1], 'v')
if (current or '0') ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[1], 'q') == 1 then return 0 end
if ARGV[4] == '' then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
  redis.call('HDEL', KEYS[1], 't')
else
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 't', ARGV[4], 'd', ARGV[3])
end
return 1
`;

// KEYS[1] record, KEYS[2] due index, KEYS[3] quarantine index; ARGV id.
export const DELETE = `
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
`;

// KEYS[1] record, KEYS[2] due index, KEYS[3] quarantine index; ARGV version, at, reason, id.
// A quarantined record keeps its data and version, loses its due time, and is frozen: the save
// scripts above refuse a record with a 'q' field.
export const QUARANTINE = `
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[1], 'q') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'q', ARGV[2], 'r', ARGV[3])
redis.call('HDEL', KEYS[1], 't')
redis.call('ZREM', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[4])
return 1
`;

// The same on the record alone, for Redis Cluster (the indexes are updated after it).
export const QUARANTINE_RECORD = `
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[1], 'q') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'q', ARGV[2], 'r', ARGV[3])
redis.call('HDEL', KEYS[1], 't')
return 1
`;

// KEYS[1] due index; ARGV id, score. Removes the entry only if nobody moved it since it was read.
export const UNINDEX_IF = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
`;
