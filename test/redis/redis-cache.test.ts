import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedisCache } from '../../src/cache/redis-cache.js';
import { AppError } from '../../src/errors.js';
import { closeRedis, createRedis } from '../../src/redis/redis-connection.js';
import { TEST_REDIS_URL, deleteKeys, silentLogger, uniquePrefix } from './redis-test-env.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('redis cache', () => {
  let prefix: string;
  let a: Redis;
  let b: Redis;

  beforeEach(() => {
    prefix = uniquePrefix();
    // Two connections stand for two api processes.
    a = createRedis(TEST_REDIS_URL, { role: 'test-cache-a', logger: silentLogger });
    b = createRedis(TEST_REDIS_URL, { role: 'test-cache-b', logger: silentLogger });
  });
  afterEach(async () => {
    await deleteKeys(TEST_REDIS_URL, prefix);
    await closeRedis(a);
    await closeRedis(b);
  });

  it('stores values under the prefix with the given TTL', async () => {
    const cache = createRedisCache(a, { prefix });
    await cache.set('video:metadata:abc', { title: 'x', n: 1 }, 120);
    expect(await cache.get('video:metadata:abc')).toEqual({ title: 'x', n: 1 });
    const ttl = await a.ttl(`${prefix}video:metadata:abc`);
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
    await cache.delete('video:metadata:abc');
    expect(await cache.get('video:metadata:abc')).toBeNull();
  });

  it('expires a value after its TTL', async () => {
    const cache = createRedisCache(a, { prefix });
    await cache.set('k', 'v', 1);
    await sleep(1_100);
    expect(await cache.get('k')).toBeNull();
  });

  it('runs fn once for concurrent callers in two processes and gives all its result', async () => {
    const first = createRedisCache(a, { prefix, pollMs: 20 });
    const second = createRedisCache(b, { prefix, pollMs: 20 });
    let runs = 0;
    const fn = async () => {
      runs += 1;
      await sleep(300);
      return { runs };
    };
    const results = await Promise.all([
      first.singleFlight('meta', fn),
      first.singleFlight('meta', fn),
      second.singleFlight('meta', fn),
      second.singleFlight('meta', fn),
    ]);
    expect(runs).toBe(1);
    expect(results).toEqual([{ runs: 1 }, { runs: 1 }, { runs: 1 }, { runs: 1 }]);
  });

  it('gives waiters in another process the AppError of the run', async () => {
    const first = createRedisCache(a, { prefix, pollMs: 20 });
    const second = createRedisCache(b, { prefix, pollMs: 20 });
    let runs = 0;
    const fn = async (): Promise<never> => {
      runs += 1;
      await sleep(200);
      throw new AppError('video_unavailable');
    };
    const results = await Promise.allSettled([first.singleFlight('bad', fn), second.singleFlight('bad', fn)]);
    expect(runs).toBe(1);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(AppError);
      expect(((r as PromiseRejectedResult).reason as AppError).category).toBe('video_unavailable');
    }
  });

  it('runs again for a caller that comes after a finished flight', async () => {
    const cache = createRedisCache(a, { prefix });
    let runs = 0;
    await cache.singleFlight('k', async () => ++runs);
    expect(await cache.singleFlight('k', async () => ++runs)).toBe(2);
  });

  it('takes over when the lock holder died without a result', async () => {
    // A holder that died leaves its lock until the lock's TTL.
    await a.set(`${prefix}flight:lock:k`, 'dead-flight', 'PX', 300);
    const cache = createRedisCache(b, { prefix, pollMs: 20 });
    const started = Date.now();
    expect(await cache.singleFlight('k', async () => 'mine')).toBe('mine');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('runs anyway after the bounded wait when the holder never finishes', async () => {
    await a.set(`${prefix}flight:lock:k`, 'slow-flight', 'PX', 10_000);
    const cache = createRedisCache(b, { prefix, pollMs: 20, maxWaitMs: 300 });
    const started = Date.now();
    expect(await cache.singleFlight('k', async () => 'mine')).toBe('mine');
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
