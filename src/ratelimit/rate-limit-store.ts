/**
 * The counter store behind the rate limits (SPEC §7): Redis in distributed mode (shared by every api
 * process), SQLite in embedded mode (daily counts survive a restart), memory where neither applies.
 * All three are rate-limiter-flexible limiters, whose increments are atomic in their store.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  RateLimiterSQLite,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';

/**
 * Window counters, shaped around what the limits need. A key names one client in one calendar
 * window, so a counter only has to live until that window ends.
 */
export interface RateLimitStore {
  /**
   * Atomically adds one to `key` and resolves the count including this request, which may exceed
   * `limit` (the caller rejects then). The counter is created to expire after `ttlSeconds`.
   * A key is always used with the same limit. Rejects only when the store itself fails.
   */
  take(key: string, limit: number, ttlSeconds: number): Promise<number>;
  /** Gives back one point taken by `take` on the same key. */
  giveBack(key: string, limit: number, ttlSeconds: number): Promise<void>;
  /** Stops the store's timers; connections handed in are closed by their owner. */
  close(): void;
}

/** Which store the limits run on; the caller owns (opens and closes) the connection it passes. */
export type RateLimitBackend =
  | { kind: 'sqlite'; db: BetterSqlite3.Database }
  | { kind: 'redis'; redis: Redis; prefix: string }
  | { kind: 'memory' }
  /** Any implementation of the port, e.g. one that fails, to exercise fail-open. */
  | { kind: 'store'; store: RateLimitStore };

/** The SQLite table of the embedded counters, created by the database migrations. */
export const RATE_LIMIT_TABLE = 'rate_limit_counters';

// Expired rows are harmless (a window's key is never reused) but would grow the file forever.
const SQLITE_PRUNE_INTERVAL_MS = 10 * 60_000;

export function createRateLimitStore(backend: RateLimitBackend): RateLimitStore {
  switch (backend.kind) {
    case 'store':
      return backend.store;
    case 'memory':
      return createFlexibleStore((points) => new RateLimiterMemory({ points, duration: 0 }), () => {});
    case 'redis':
      return createFlexibleStore(
        (points) =>
          new RateLimiterRedis({
            storeClient: backend.redis,
            keyPrefix: `${backend.prefix}ratelimit`,
            points,
            duration: 0,
            // A disconnected client would queue the command until it reconnects; fail at once instead.
            rejectIfRedisNotReady: true,
          }),
        () => {},
      );
    case 'sqlite':
      return createSqliteStore(backend.db);
  }
}

function createSqliteStore(db: BetterSqlite3.Database): RateLimitStore {
  // The table comes from the embedded database's migrations (src/store/migrations.ts), so the
  // library is told it exists: its own creation is asynchronous, and a take before it finished
  // would fail (and fail open).
  const table = db
    .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?`)
    .get(RATE_LIMIT_TABLE);
  if (!table) throw new Error(`table ${RATE_LIMIT_TABLE} is missing: open the database through openDatabase()`);
  const prune = (): void => {
    try {
      if (db.open) db.prepare(`DELETE FROM ${RATE_LIMIT_TABLE} WHERE expire < ?`).run(Date.now());
    } catch {
      // Pruning is housekeeping; a failure here must not surface as an unhandled error.
    }
  };
  prune();
  const timer = setInterval(prune, SQLITE_PRUNE_INTERVAL_MS);
  timer.unref();
  return createFlexibleStore(
    (points) =>
      new RateLimiterSQLite({
        storeClient: db,
        storeType: 'better-sqlite3',
        tableName: RATE_LIMIT_TABLE,
        tableCreated: true,
        points,
        duration: 0,
      }),
    () => clearInterval(timer),
  );
}

function createFlexibleStore(
  newLimiter: (points: number) => RateLimiterAbstract,
  stop: () => void,
): RateLimitStore {
  // A library limiter is configured with its points, so there is one per distinct limit value; they
  // share the store, and a key always belongs to the same limit.
  const limiters = new Map<number, RateLimiterAbstract>();
  const limiterFor = (limit: number): RateLimiterAbstract => {
    let limiter = limiters.get(limit);
    if (!limiter) {
      limiter = newLimiter(limit);
      limiters.set(limit, limiter);
    }
    return limiter;
  };

  return {
    async take(key, limit, ttlSeconds) {
      try {
        const res = await limiterFor(limit).consume(key, 1, { customDuration: ttlSeconds });
        return res.consumedPoints;
      } catch (err) {
        // Over the limit the library rejects with its result; anything else is a store failure.
        if (err instanceof RateLimiterRes) return err.consumedPoints;
        throw err;
      }
    },
    async giveBack(key, limit, ttlSeconds) {
      await limiterFor(limit).reward(key, 1, { customDuration: ttlSeconds });
    },
    close: stop,
  };
}
