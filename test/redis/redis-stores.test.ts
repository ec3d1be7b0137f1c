import { randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newJob } from '../../src/downloads/job.js';
import { closeRedis, createRedis } from '../../src/redis/redis-connection.js';
import { createRedisJobStore } from '../../src/store/redis-job-store.js';
import { createRedisTokenStore } from '../../src/store/redis-token-store.js';
import { TOMBSTONE_MS, type TokenRecord } from '../../src/store/token-store.js';
import { TEST_REDIS_URL, countKeys, deleteKeys, silentLogger, uniquePrefix } from './redis-test-env.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const jobFor = (clientKey: string | null = 'client-a') =>
  newJob({ id: randomUUID(), url: 'https://youtu.be/abc', formatId: '18', downloadType: 'video-audio', clientKey, now: Date.now() });

describe('redis stores: TTLs and keys', () => {
  let prefix: string;
  let redis: Redis;

  beforeEach(() => {
    prefix = uniquePrefix();
    redis = createRedis(TEST_REDIS_URL, { role: 'test-stores', logger: silentLogger });
  });
  afterEach(async () => {
    await deleteKeys(TEST_REDIS_URL, prefix);
    await closeRedis(redis);
  });

  it('keeps a job JOB_TTL_SECONDS after its last update, refreshing the TTL on each update', async () => {
    const store = createRedisJobStore(redis, { prefix, jobTtlSeconds: 300 });
    const job = jobFor();
    await store.create(job);
    const key = `${prefix}job:${job.id}`;
    expect(await redis.ttl(key)).toBeGreaterThan(295);
    await redis.expire(key, 5);
    await store.update(job.id, { progress: { percentage: 3 } });
    expect(await redis.ttl(key)).toBeGreaterThan(295);
  });

  it('lets Redis forget a job after its TTL, and then no longer counts it as active', async () => {
    const store = createRedisJobStore(redis, { prefix, jobTtlSeconds: 1 });
    const job = jobFor('client-ttl');
    await store.create(job);
    expect(await store.countActiveForClient('client-ttl')).toBe(1);
    await sleep(1_300);
    expect(await store.get(job.id)).toBeNull();
    expect(await store.countActiveForClient('client-ttl')).toBe(0);
    // Still listed so that cleanup removes its files and its index entry.
    expect(await store.expired(Date.now(), 10)).toContain(job.id);
    await store.delete(job.id);
    expect(await store.expired(Date.now(), 10)).not.toContain(job.id);
  });

  it('writes only keys under the prefix', async () => {
    const jobs = createRedisJobStore(redis, { prefix, jobTtlSeconds: 60 });
    const tokens = createRedisTokenStore(redis, { prefix });
    const job = jobFor();
    await jobs.create(job);
    await jobs.update(job.id, { status: 'processing' });
    await tokens.issue(tokenFor(job.id, Date.now() + 60_000));
    expect(await countKeys(TEST_REDIS_URL, prefix)).toBeGreaterThanOrEqual(4);
    expect(await countKeys(TEST_REDIS_URL, `${prefix}job:`)).toBe(1);
  });

  it('keeps a token key until its expiry plus the tombstone time', async () => {
    const tokens = createRedisTokenStore(redis, { prefix });
    const record = tokenFor(randomUUID(), Date.now() + 10 * 60_000);
    await tokens.issue(record);
    const ttl = await redis.pttl(`${prefix}token:${record.token}`);
    expect(ttl).toBeGreaterThan(10 * 60_000 + TOMBSTONE_MS - 5_000);
    expect(ttl).toBeLessThanOrEqual(10 * 60_000 + TOMBSTONE_MS);
  });

  it('hands an expired token to exactly one of several concurrent cleanups', async () => {
    const tokens = [createRedisTokenStore(redis, { prefix }), createRedisTokenStore(redis, { prefix })];
    const now = Date.now();
    const records = Array.from({ length: 20 }, () => tokenFor(randomUUID(), now - 1_000));
    for (const r of records) await tokens[0]!.issue(r);
    const batches = await Promise.all([
      tokens[0]!.expire(now, 100), tokens[1]!.expire(now, 100), tokens[0]!.expire(now, 100),
    ]);
    const handed = batches.flat().map((r) => r.token).sort();
    expect(handed).toEqual(records.map((r) => r.token).sort());
  });
});

function tokenFor(jobId: string, expiresAt: number): TokenRecord {
  return {
    token: randomBytes(32).toString('base64url'),
    jobId,
    file: { key: `${jobId}/a.mp4`, name: 'a.mp4', size: 1, contentType: 'video/mp4', storage: 'local' },
    createdAt: expiresAt - 600_000,
    expiresAt,
  };
}
