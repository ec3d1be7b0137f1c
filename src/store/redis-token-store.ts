/**
 * TokenStore on Redis (distributed mode). A token's key lives until its expiry plus
 * `TOMBSTONE_MS` (at least `TOMBSTONE_MS` from issue, so cleanup always gets the record once to
 * delete its file); `expire` turns it into a tombstone that answers 410 until expiry plus
 * `TOMBSTONE_MS`, after which its TTL removes it.
 * A sorted set by expiry lets cleanup find newly expired tokens across all processes, and a set per
 * job lets DELETE forget every token of a job.
 */
import type { Redis } from 'ioredis';
import { redisCall } from '../redis/redis-connection.js';
import { defineScript } from '../redis/redis-script.js';
import { TOMBSTONE_MS, type TokenRecord, type TokenStore } from './token-store.js';

export interface RedisTokenStoreOptions {
  /** Every key starts with it, e.g. `ultradl:`. */
  prefix: string;
  /** Milliseconds since the epoch, for the keys' TTLs. */
  now?: () => number;
}

const TOMBSTONE = '{"tombstone":true}';

// KEYS: token, expiry-zset, job-tokens. ARGV: record JSON, ttl ms, expiresAt, token.
const ISSUE = defineScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[4])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
return 1`);

// KEYS: job-tokens, expiry-zset. ARGV: token key prefix. Returns the live records it forgot.
const REVOKE = defineScript(`
local records = {}
for _, token in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. token
  local value = redis.call('GET', key)
  if value and value ~= '${TOMBSTONE}' then table.insert(records, value) end
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[2], token)
end
redis.call('DEL', KEYS[1])
return records`);

// KEYS: expiry-zset. ARGV: now, limit, token key prefix, TOMBSTONE_MS. ZREM decides which process expires a
// token, so concurrent cleanups never both return (and delete) the same file.
const EXPIRE = defineScript(`
local records = {}
for _, token in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))) do
  if redis.call('ZREM', KEYS[1], token) == 1 then
    local key = ARGV[3] .. token
    local value = redis.call('GET', key)
    if value and value ~= '${TOMBSTONE}' then
      table.insert(records, value)
      local ttl = tonumber(cjson.decode(value).expiresAt) + tonumber(ARGV[4]) - tonumber(ARGV[1])
      if ttl > 0 then redis.call('SET', key, '${TOMBSTONE}', 'PX', math.floor(ttl))
      else redis.call('DEL', key) end
    end
  end
end
return records`);

/** The distributed TokenStore; every method rejects with a 503 `system_error` when Redis is unreachable. */
export function createRedisTokenStore(redis: Redis, options: RedisTokenStoreOptions): TokenStore {
  const { prefix } = options;
  const now = options.now ?? Date.now;
  const tokenPrefix = `${prefix}token:`;
  const expiryKey = `${prefix}tokens:expiry`;
  const jobTokensKey = (jobId: string) => `${prefix}job-tokens:${jobId}`;

  return {
    async issue(record) {
      const ttlMs = Math.max(0, record.expiresAt - now()) + TOMBSTONE_MS;
      await redisCall(() =>
        ISSUE(
          redis,
          [tokenPrefix + record.token, expiryKey, jobTokensKey(record.jobId)],
          [JSON.stringify(record), ttlMs, record.expiresAt, record.token],
        ),
      );
    },

    async resolve(token, at) {
      const value = await redisCall(() => redis.get(tokenPrefix + token));
      if (value === null) return { state: 'unknown' };
      if (value === TOMBSTONE) return { state: 'expired' };
      const record = JSON.parse(value) as TokenRecord;
      if (at >= record.expiresAt + TOMBSTONE_MS) return { state: 'unknown' };
      return record.expiresAt <= at ? { state: 'expired' } : { state: 'valid', record };
    },

    async revokeForJob(jobId) {
      const values = await redisCall(() => REVOKE(redis, [jobTokensKey(jobId), expiryKey], [tokenPrefix]));
      return (values as string[]).map((v) => JSON.parse(v) as TokenRecord);
    },

    // Tombstones older than TOMBSTONE_MS need no sweep: their keys' TTL ends then.
    async expire(at, limit) {
      const values = await redisCall(() => EXPIRE(redis, [expiryKey], [at, limit, tokenPrefix, TOMBSTONE_MS]));
      return (values as string[]).map((v) => JSON.parse(v) as TokenRecord);
    },

    // The connection belongs to the caller, which may share it with other adapters.
    async close() {},
  };
}
