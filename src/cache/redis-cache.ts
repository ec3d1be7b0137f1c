/**
 * Cache on Redis (distributed mode, SPEC §5). Keys are the caller's (e.g. `video:metadata:<sha256>`)
 * under our prefix; values are JSON with a TTL. `singleFlight` shares one run per key inside the
 * process and, through a Redis lock, across processes: the lock holder publishes its result under a
 * key named after its flight, and the others poll for it.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AppError, isErrorCategory } from '../errors.js';
import { redisCall } from '../redis/redis-connection.js';
import type { Cache } from './cache.js';
import { createSingleFlight } from './single-flight.js';

export interface RedisCacheOptions {
  prefix: string;
  logger?: Logger;
  /** How long a flight may hold its lock; a holder that dies frees it after this (ms). */
  lockTtlMs?: number;
  /** How long a waiter waits for another process's flight before running `fn` itself (ms). */
  maxWaitMs?: number;
  /** Poll period of a waiter (ms). */
  pollMs?: number;
}

/** A yt-dlp extraction takes seconds, sometimes tens of them. */
const DEFAULT_LOCK_TTL_MS = 60_000;
const DEFAULT_MAX_WAIT_MS = 45_000;
const DEFAULT_POLL_MS = 100;
/** Waiters only need the result for the moment they are polling. */
const RESULT_TTL_MS = 30_000;

type FlightResult =
  | { ok: true; value: unknown }
  | { ok: false; category: string | null; status: number | null; message: string };

/**
 * The distributed Cache; `get`/`set`/`delete` reject with a 503 `system_error` when Redis is
 * unreachable, while `singleFlight` then falls back to this process's own single-flight.
 */
export function createRedisCache(redis: Redis, options: RedisCacheOptions): Cache {
  const { prefix, logger } = options;
  const lockTtlMs = options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const local = createSingleFlight();
  const lockKey = (key: string) => `${prefix}flight:lock:${key}`;
  const resultKey = (key: string, flight: string) => `${prefix}flight:result:${key}:${flight}`;

  async function runAsLeader<T>(key: string, flight: string, fn: () => Promise<T>): Promise<T> {
    let result: FlightResult;
    try {
      const value = await fn();
      result = { ok: true, value };
      await share(key, flight, result);
      return value;
    } catch (err) {
      const app = err instanceof AppError ? err : null;
      result = {
        ok: false,
        category: app?.category ?? null,
        status: app?.status ?? null,
        message: err instanceof Error ? err.message : String(err),
      };
      await share(key, flight, result);
      throw err;
    }
  }

  async function share(key: string, flight: string, result: FlightResult): Promise<void> {
    try {
      await redis
        .multi()
        .set(resultKey(key, flight), JSON.stringify(result), 'PX', RESULT_TTL_MS)
        // Release only our own lock: a slow flight's lock may have expired and been retaken.
        .eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, lockKey(key), flight)
        .exec();
    } catch (err) {
      // Waiters then time out and run fn themselves; the caller still gets its result.
      logger?.warn({ err, key }, 'could not share a single-flight result');
    }
  }

  async function waitFor<T>(key: string, flight: string, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + maxWaitMs;
    while (Date.now() < deadline) {
      await sleep(pollMs);
      const [raw, holder] = await Promise.all([redis.get(resultKey(key, flight)), redis.get(lockKey(key))]);
      if (raw !== null) return unpack<T>(JSON.parse(raw) as FlightResult);
      // The holder released or lost its lock without a result (it died): take over.
      if (holder !== flight) return distributed(key, fn);
    }
    logger?.warn({ key }, 'single-flight wait timed out; running anyway');
    return fn();
  }

  async function distributed<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const flight = randomUUID();
    let holder: string | null;
    try {
      const acquired = await redis.set(lockKey(key), flight, 'PX', lockTtlMs, 'NX');
      holder = acquired === 'OK' ? flight : await redis.get(lockKey(key));
    } catch (err) {
      // Without Redis there is no cross-process sharing; the local single-flight still holds.
      logger?.warn({ err, key }, 'single-flight lock unavailable; running locally');
      return fn();
    }
    if (holder === flight) return runAsLeader(key, flight, fn);
    // The lock was released between our SET and GET: try again.
    if (holder === null) return distributed(key, fn);
    try {
      return await waitFor(key, holder, fn);
    } catch (err) {
      if (err instanceof AppError || !(err instanceof Error) || err.name === 'FlightError') throw err;
      logger?.warn({ err, key }, 'single-flight wait failed; running locally');
      return fn();
    }
  }

  return {
    async get<T>(key: string) {
      const raw = await redisCall(() => redis.get(prefix + key));
      return raw === null ? null : (JSON.parse(raw) as T);
    },

    async set(key, value, ttlSeconds) {
      // A TTL of 0 means "do not cache" (METADATA_CACHE_TTL_SECONDS=0).
      if (ttlSeconds <= 0) return;
      await redisCall(() => redis.set(prefix + key, JSON.stringify(value), 'EX', ttlSeconds));
    },

    async delete(key) {
      await redisCall(() => redis.del(prefix + key));
    },

    singleFlight<T>(key: string, fn: () => Promise<T>): Promise<T> {
      return local.run(key, () => distributed(key, fn));
    },

    // The connection belongs to the caller, which may share it with other adapters.
    async close() {},
  };
}

function unpack<T>(result: FlightResult): T {
  if (result.ok) return result.value as T;
  if (result.category && isErrorCategory(result.category)) {
    throw new AppError(result.category, { status: result.status ?? undefined, detail: result.message });
  }
  const err = new Error(result.message);
  err.name = 'FlightError';
  throw err;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
