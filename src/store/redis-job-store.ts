/**
 * JobStore on Redis (distributed mode). One hash per job under `<prefix>job:<id>` whose fields are
 * JSON values; every write refreshes its TTL to `JOB_TTL_SECONDS`, so Redis itself forgets records
 * that saw no update for that long. Writes are Lua scripts: the status compare-and-set, the
 * monotonic percentage and the per-client set of active jobs change together or not at all.
 */
import type { Redis } from 'ioredis';
import type { Job } from '../downloads/job.js';
import { AppError } from '../errors.js';
import { redisCall } from '../redis/redis-connection.js';
import { defineScript } from '../redis/redis-script.js';
import type { JobPatch, JobStore, UpdateOptions } from './job-store.js';

export interface RedisJobStoreOptions {
  /** Every key starts with it, e.g. `ultradl:`. */
  prefix: string;
  jobTtlSeconds: number;
  /** Milliseconds since the epoch; the store stamps `updatedAt` with it. */
  now?: () => number;
}

/** Job fields stored one per hash field, each as JSON. `_client` holds the raw client key. */
const JOB_FIELDS = [
  'id', 'url', 'formatId', 'downloadType', 'status', 'percentage', 'phase', 'speed', 'eta',
  'token', 'expireAt', 'errorCategory', 'clientKey', 'createdAt', 'updatedAt',
] as const;

const ACTIVE = `local function isActive(s) return s == '"pending"' or s == '"processing"' end`;

// KEYS: job, updated-zset, client-active (or the job key again when there is no client).
// ARGV: ttl, id, updatedAt, field/value pairs...
const CREATE = defineScript(`${ACTIVE}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
local client = redis.call('HGET', KEYS[1], '_client')
if client and isActive(redis.call('HGET', KEYS[1], 'status')) then
  redis.call('SADD', KEYS[3], ARGV[2])
  redis.call('EXPIRE', KEYS[3], ARGV[1])
end
return 1`);

// KEYS: job, updated-zset. ARGV: ttl, id, now, active-key prefix, n, n allowed statuses,
// percentage or '', field/value pairs... The client-active key is derived from the stored client
// key, which only the script knows; fine on a single Redis (not Redis Cluster).
const UPDATE = defineScript(`${ACTIVE}
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return false end
local n = tonumber(ARGV[5])
if n > 0 then
  local status = redis.call('HGET', key, 'status')
  local allowed = false
  for i = 1, n do if ARGV[5 + i] == status then allowed = true end end
  if not allowed then return false end
end
local idx = 6 + n
if ARGV[idx] ~= '' then
  local stored = tonumber(redis.call('HGET', key, 'percentage')) or 0
  if tonumber(ARGV[idx]) > stored then redis.call('HSET', key, 'percentage', ARGV[idx]) end
end
for i = idx + 1, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', key, 'updatedAt', ARGV[3])
redis.call('EXPIRE', key, ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
local client = redis.call('HGET', key, '_client')
if client then
  local ckey = ARGV[4] .. client
  if isActive(redis.call('HGET', key, 'status')) then
    redis.call('SADD', ckey, ARGV[2])
    redis.call('EXPIRE', ckey, ARGV[1])
  else
    redis.call('SREM', ckey, ARGV[2])
  end
end
return redis.call('HGETALL', key)`);

// KEYS: job, updated-zset. ARGV: active-key prefix, id.
const DELETE = defineScript(`
local client = redis.call('HGET', KEYS[1], '_client')
local existed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
if client then redis.call('SREM', ARGV[1] .. client, ARGV[2]) end
return existed`);

// KEYS: client-active. ARGV: job key prefix. Drops members whose job ended or expired, so a
// record forgotten by its TTL never counts against its client.
const COUNT_ACTIVE = defineScript(`${ACTIVE}
local count = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if isActive(redis.call('HGET', ARGV[1] .. id, 'status')) then count = count + 1
  else redis.call('SREM', KEYS[1], id) end
end
return count`);

/** Every job record's key starts with this; the id follows. */
export function jobKeyPrefix(prefix: string): string {
  return `${prefix}job:`;
}

/** The distributed JobStore; every method rejects with a 503 `system_error` when Redis is unreachable. */
export function createRedisJobStore(redis: Redis, options: RedisJobStoreOptions): JobStore {
  const { prefix, jobTtlSeconds } = options;
  const now = options.now ?? Date.now;
  const jobKey = (id: string) => `${jobKeyPrefix(prefix)}${id}`;
  const updatedKey = `${prefix}jobs:updated`;
  const activePrefix = `${prefix}client-active:`;

  return {
    async get(id) {
      const hash = await redisCall(() => redis.hgetall(jobKey(id)));
      return decodeJob(hash);
    },

    async getMany(ids) {
      if (ids.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hgetall(jobKey(id));
      const results = await redisCall(() => pipeline.exec());
      return (results ?? []).map(([err, hash]) => {
        if (err) throw new AppError('system_error', { status: 503, cause: err });
        return decodeJob(hash as Record<string, string>);
      });
    },

    async create(job) {
      const stamped = { ...job, updatedAt: now() };
      const fields = encodeFields(stamped);
      if (job.clientKey !== null) fields.push('_client', job.clientKey);
      const activeKey = job.clientKey !== null ? activePrefix + job.clientKey : jobKey(job.id);
      const created = await redisCall(() =>
        CREATE(redis, [jobKey(job.id), updatedKey, activeKey], [jobTtlSeconds, job.id, stamped.updatedAt, ...fields]),
      );
      if (created !== 1) throw new AppError('system_error', { detail: `job ${job.id} already exists` });
    },

    async update(id, patch: JobPatch, opts: UpdateOptions = {}) {
      const allowed = (opts.ifStatus ?? []).map((s) => JSON.stringify(s));
      const { percentage, ...restProgress } = patch.progress ?? {};
      const fields: string[] = [];
      for (const [name, value] of Object.entries(restProgress)) {
        if (value !== undefined) fields.push(name, JSON.stringify(value));
      }
      for (const name of ['status', 'token', 'expireAt', 'errorCategory'] as const) {
        if (patch[name] !== undefined) fields.push(name, JSON.stringify(patch[name]));
      }
      const args = [
        jobTtlSeconds, id, now(), activePrefix, allowed.length, ...allowed,
        percentage === undefined ? '' : String(percentage), ...fields,
      ];
      const result = await redisCall(() => UPDATE(redis, [jobKey(id), updatedKey], args));
      return Array.isArray(result) ? decodeJob(pairsToObject(result as string[])) : null;
    },

    async delete(id) {
      const existed = await redisCall(() => DELETE(redis, [jobKey(id), updatedKey], [activePrefix, id]));
      return existed === 1;
    },

    // Redis forgets a record by its TTL on its own; this also lists ids whose record is already
    // gone, so cleanup's `delete` drops them from the index and removes their files.
    async expired(olderThan, limit) {
      return redisCall(() => redis.zrangebyscore(updatedKey, '-inf', `(${olderThan}`, 'LIMIT', 0, limit));
    },

    async countActiveForClient(clientKey) {
      const count = await redisCall(() => COUNT_ACTIVE(redis, [activePrefix + clientKey], [jobKeyPrefix(prefix)]));
      return Number(count);
    },

    // The connection belongs to the caller, which may share it with other adapters.
    async close() {},
  };
}

function encodeFields(job: Job): string[] {
  const flat: Record<(typeof JOB_FIELDS)[number], unknown> = {
    ...job,
    percentage: job.progress.percentage,
    phase: job.progress.phase,
    speed: job.progress.speed,
    eta: job.progress.eta,
  };
  return JOB_FIELDS.flatMap((name) => [name, JSON.stringify(flat[name] ?? null)]);
}

function pairsToObject(pairs: string[]): Record<string, string> {
  const obj: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) obj[pairs[i] as string] = pairs[i + 1] as string;
  return obj;
}

function decodeJob(hash: Record<string, string> | null | undefined): Job | null {
  if (!hash || hash.id === undefined) return null;
  const v = (name: (typeof JOB_FIELDS)[number]): never => JSON.parse(hash[name] ?? 'null') as never;
  return {
    id: v('id'),
    url: v('url'),
    formatId: v('formatId'),
    downloadType: v('downloadType'),
    status: v('status'),
    progress: { percentage: v('percentage'), phase: v('phase'), speed: v('speed'), eta: v('eta') },
    token: v('token'),
    expireAt: v('expireAt'),
    errorCategory: v('errorCategory'),
    clientKey: v('clientKey'),
    createdAt: v('createdAt'),
    updatedAt: v('updatedAt'),
  };
}
