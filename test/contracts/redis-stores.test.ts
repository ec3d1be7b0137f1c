import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { closeRedis, createRedis } from '../../src/redis/redis-connection.js';
import { createRedisJobStore } from '../../src/store/redis-job-store.js';
import { createRedisTokenStore } from '../../src/store/redis-token-store.js';
import { TEST_REDIS_URL, deleteKeys, silentLogger, uniquePrefix } from '../redis/redis-test-env.js';
import { describeJobStoreContract } from './job-store.contract.js';
import { describeTokenStoreContract } from './token-store.contract.js';

let redis: Redis;
const prefixes: string[] = [];

beforeAll(() => {
  redis = createRedis(TEST_REDIS_URL, { role: 'test-stores', logger: silentLogger });
});
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(TEST_REDIS_URL, prefix);
  await closeRedis(redis);
});

function freshPrefix(): string {
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  return prefix;
}

describeJobStoreContract('redis', async () => {
  const prefix = freshPrefix();
  const store = createRedisJobStore(redis, { prefix, jobTtlSeconds: 3600 });
  return { store, cleanup: () => deleteKeys(TEST_REDIS_URL, prefix) };
});

describeTokenStoreContract('redis', async () => {
  const prefix = freshPrefix();
  const store = createRedisTokenStore(redis, { prefix });
  return { store, cleanup: () => deleteKeys(TEST_REDIS_URL, prefix) };
});
