import { createRedisCache } from '../../src/cache/redis-cache.js';
import { closeRedis, createRedis } from '../../src/redis/redis-connection.js';
import { TEST_REDIS_URL, deleteKeys, silentLogger, uniquePrefix } from '../redis/redis-test-env.js';
import { describeCacheContract } from './cache.contract.js';

describeCacheContract('redis', async () => {
  const prefix = uniquePrefix();
  const redis = createRedis(TEST_REDIS_URL, { role: 'test-cache', logger: silentLogger });
  return {
    cache: createRedisCache(redis, { prefix }),
    cleanup: async () => {
      await deleteKeys(TEST_REDIS_URL, prefix);
      await closeRedis(redis);
    },
  };
});
