/**
 * The cached job store in distributed mode: Redis's tracking reports reach every process's cache,
 * the cache is off while a report connection is down, and it passes the JobStore contract.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newJob } from '../../src/downloads/job.js';
import { closeRedis, createRedis } from '../../src/redis/redis-connection.js';
import { createCachedJobStore } from '../../src/store/cached-job-store.js';
import type { JobStore } from '../../src/store/job-store.js';
import { createRedisJobChangeFeed, type RedisJobChangeFeed } from '../../src/store/redis-job-change-feed.js';
import { createRedisJobStore } from '../../src/store/redis-job-store.js';
import { describeJobStoreContract } from '../contracts/job-store.contract.js';
import { waitFor } from '../helpers/test-app.js';
import { TEST_REDIS_URL, deleteKeys, silentLogger, startPrivateRedis, uniquePrefix, type PrivateRedis } from './redis-test-env.js';

const TTL_S = 3600;

/** A cached store over Redis as one process has it, counting the reads that reach Redis. */
async function processStore(redis: Redis, url: string, prefix: string) {
  const feed = createRedisJobChangeFeed({ url, prefix, logger: silentLogger });
  const redisStore = createRedisJobStore(redis, { prefix, jobTtlSeconds: TTL_S });
  const counted = { reads: 0 };
  const inner: JobStore = {
    ...redisStore,
    get(id) {
      counted.reads += 1;
      return redisStore.get(id);
    },
  };
  const store = createCachedJobStore(inner, { jobTtlMs: TTL_S * 1000, changes: feed });
  await waitFor(() => feed.live, 10_000);
  return { store, feed, counted };
}

/**
 * Reads until an answer comes from memory. A store's own write is reported back to it too, and a
 * read that the report overtakes is not kept, so the first read after a write may not stick.
 */
async function untilCached(p: { store: JobStore; counted: { reads: number } }, id: string): Promise<void> {
  await waitFor(async () => {
    const before = p.counted.reads;
    await p.store.get(id);
    return p.counted.reads === before;
  }, 5_000, 5);
}

const job = (id: string) =>
  newJob({ id, url: 'https://youtu.be/abcdefghijk', formatId: '18', downloadType: 'video-audio', clientKey: 'c', now: Date.now() });

describe('redis job change feed', () => {
  let redis: Redis;
  const feeds: RedisJobChangeFeed[] = [];
  const prefixes: string[] = [];
  beforeAll(() => {
    redis = createRedis(TEST_REDIS_URL, { role: 'test-feed', logger: silentLogger });
  });
  afterEach(async () => {
    await Promise.all(feeds.splice(0).map((feed) => feed.close()));
  });
  afterAll(async () => {
    for (const prefix of prefixes) await deleteKeys(TEST_REDIS_URL, prefix);
    await closeRedis(redis);
  });
  const freshPrefix = () => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    return prefix;
  };

  describeJobStoreContract('redis, cached with its change feed', async () => {
    const prefix = freshPrefix();
    const { store, feed } = await processStore(redis, TEST_REDIS_URL, prefix);
    feeds.push(feed);
    return { store, cleanup: () => deleteKeys(TEST_REDIS_URL, prefix) };
  });

  it("shows one process's writes to another's cache, which otherwise answers from memory", async () => {
    const prefix = freshPrefix();
    const a = await processStore(redis, TEST_REDIS_URL, prefix);
    const b = await processStore(redis, TEST_REDIS_URL, prefix);
    feeds.push(a.feed, b.feed);
    await a.store.create(job('j1'));
    await untilCached(b, 'j1');
    const reads = b.counted.reads;
    await b.store.get('j1');
    expect(b.counted.reads).toBe(reads);

    await a.store.update('j1', { status: 'processing', progress: { percentage: 50 } });
    const seen = await waitFor(async () => {
      const current = await b.store.get('j1');
      return current?.status === 'processing' ? current : null;
    }, 2_000, 5);
    expect(seen.progress.percentage).toBe(50);
    // An expiry or deletion made outside any store is reported too.
    await redis.del(`${prefix}job:j1`);
    await waitFor(async () => (await b.store.get('j1')) === null, 2_000, 5);
  });

  it('turns the cache off while a report connection is down, and back on when it returns', async () => {
    const server: PrivateRedis = await startPrivateRedis('feed-secret');
    const client = createRedis(server.url(), { role: 'test-feed-private', logger: silentLogger });
    try {
      const prefix = 'p:';
      const a = await processStore(client, server.url(), prefix);
      feeds.push(a.feed);
      await a.store.create(job('j2'));
      await untilCached(a, 'j2');

      // Only the report listener is cut: writes made meanwhile would go unreported.
      await client.client('KILL', 'TYPE', 'pubsub');
      await waitFor(() => !a.feed.live, 5_000, 5);
      const before = a.counted.reads;
      await a.store.get('j2');
      expect(a.counted.reads).toBe(before + 1);

      await waitFor(() => a.feed.live, 10_000);
      await untilCached(a, 'j2');
      // And the registration points at the new listener: a write is reported again.
      await createRedisJobStore(client, { prefix, jobTtlSeconds: TTL_S }).update('j2', { status: 'processing' });
      await waitFor(async () => (await a.store.get('j2'))?.status === 'processing', 2_000, 5);
    } finally {
      await closeRedis(client);
      await server.destroy();
    }
  });
});
