import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimitStore } from '../../src/ratelimit/rate-limit-store.js';
import { openDatabase } from '../../src/store/sqlite-database.js';
import { describeRateLimitStoreContract } from '../contracts/rate-limit-store.contract.js';
import { TEST_REDIS_URL, countKeys, deleteKeys, uniquePrefix } from '../redis/redis-test-env.js';

let redis: Redis;
const prefixes: string[] = [];

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(TEST_REDIS_URL, prefix);
  redis.disconnect();
});

describeRateLimitStoreContract('memory', async () => ({
  store: createRateLimitStore({ kind: 'memory' }),
  cleanup: async () => {},
}));

describeRateLimitStoreContract('sqlite', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-rl-'));
  const db = openDatabase(dir);
  return {
    store: createRateLimitStore({ kind: 'sqlite', db }),
    cleanup: async () => {
      db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describeRateLimitStoreContract('redis', async () => {
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  return {
    store: createRateLimitStore({ kind: 'redis', redis, prefix }),
    cleanup: () => deleteKeys(TEST_REDIS_URL, prefix),
  };
});

describe('rate-limit store adapters', () => {
  it('keeps every Redis key under REDIS_PREFIX', async () => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const store = createRateLimitStore({ kind: 'redis', redis, prefix });
    await store.take('daily_total:abc:2026-12-04', 60, 60);
    expect(await countKeys(TEST_REDIS_URL, prefix)).toBe(1);
    expect(await redis.get(`${prefix}ratelimit:daily_total:abc:2026-12-04`)).toBe('1');
  });

  it('keeps SQLite counters across a reopen of the database file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-rl-'));
    try {
      let db = openDatabase(dir);
      let store = createRateLimitStore({ kind: 'sqlite', db });
      await store.take('daily_total:abc:2026-12-04', 60, 3600);
      await store.take('daily_total:abc:2026-12-04', 60, 3600);
      store.close();
      db.close();

      db = openDatabase(dir);
      store = createRateLimitStore({ kind: 'sqlite', db });
      expect(await store.take('daily_total:abc:2026-12-04', 60, 3600)).toBe(3);
      store.close();
      db.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a SQLite database without the migrated table', () => {
    const db = new BetterSqlite3(':memory:');
    try {
      expect(() => createRateLimitStore({ kind: 'sqlite', db })).toThrow(/rate_limit_counters/);
    } finally {
      db.close();
    }
  });

  it('fails at once, rather than queueing, while Redis is not connected', async () => {
    const down = new Redis({ port: 1, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
    down.on('error', () => {});
    const store = createRateLimitStore({ kind: 'redis', redis: down, prefix: uniquePrefix() });
    const started = Date.now();
    await expect(store.take('k', 3, 60)).rejects.toThrow(/not ready/);
    expect(Date.now() - started).toBeLessThan(500);
    down.disconnect();
  });
});
