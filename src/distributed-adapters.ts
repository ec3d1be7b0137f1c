/**
 * Distributed mode's adapters (SPEC §1): Redis for state, cache and rate limits, BullMQ for the
 * queue, the Socket.IO Redis adapter and emitter for events. Loaded only when REDIS_URL is set.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Adapters } from './adapters.js';
import { createStorage } from './adapters.js';
import { createRedisCache } from './cache/redis-cache.js';
import type { Config } from './config.js';
import { createRedisEventBus, createSocketRedisAdapter } from './events/redis-event-bus.js';
import { startClusterCleanup } from './files/cluster-cleanup.js';
import { createBullmqJobQueue } from './queue/bullmq-job-queue.js';
import { closeRedis, createRedis, redisHealth } from './redis/redis-connection.js';
import { createCachedJobStore } from './store/cached-job-store.js';
import { createRedisJobChangeFeed } from './store/redis-job-change-feed.js';
import { createRedisJobStore } from './store/redis-job-store.js';
import { createRedisTokenStore } from './store/redis-token-store.js';

/** A cached job record is read from Redis again after this long, whatever the change reports say. */
const CACHED_JOB_MAX_AGE_MS = 2_000;

export async function createDistributedAdapters(config: Config, logger: Logger): Promise<Adapters> {
  const url = config.redisUrl!;
  const prefix = config.redisPrefix;
  const log = logger.child({ component: 'redis' });
  // Request paths fail fast on this one.
  const redis = createRedis(url, { role: 'api', logger: log });
  // The Socket.IO adapter's connections wait for Redis to return. Only a process with a gateway
  // (an api) opens them, when Socket.IO asks for the adapter.
  let socketClients: { pub: Redis; sub: Redis } | null = null;
  // A `function`, not an arrow: Socket.IO calls the adapter option with `new`.
  const socketAdapter: ReturnType<typeof createSocketRedisAdapter> = function (nsp) {
    socketClients ??= {
      pub: createRedis(url, { role: 'socket-pub', logger: log, forBullmq: true }),
      sub: createRedis(url, { role: 'socket-sub', logger: log, subscriber: true }),
    };
    return createSocketRedisAdapter(socketClients.pub, socketClients.sub, prefix)(nsp);
  };

  // Status polls answer from memory; Redis reports every change of a job key to the cache.
  const jobChanges = createRedisJobChangeFeed({ url, prefix, logger: log });
  const jobs = createCachedJobStore(createRedisJobStore(redis, { prefix, jobTtlSeconds: config.jobTtlSeconds }), {
    jobTtlMs: config.jobTtlSeconds * 1000,
    changes: jobChanges,
    maxAgeMs: CACHED_JOB_MAX_AGE_MS,
  });
  const tokens = createRedisTokenStore(redis, { prefix });
  const cache = createRedisCache(redis, { prefix, logger: log });
  const queue = createBullmqJobQueue({ url, prefix, logger: logger.child({ component: 'queue' }) });
  const events = createRedisEventBus({ redis, prefix, logger: log });
  // With GCS, processes share nothing but Redis and the bucket (SPEC §1): a file that falls back to
  // a worker's local disk could not be served by the api, so such a job fails instead. Without GCS,
  // DOWNLOAD_DIR must be shared.
  const storage = createStorage(config, logger, !config.gcsEnabled);

  return {
    jobs,
    tokens,
    queue,
    cache,
    events,
    // The Socket.IO Redis adapter delivers what workers emit; the gateway needs no bus.
    gatewayEvents: null,
    socketAdapter,
    rateLimitBackend: { kind: 'redis', redis, prefix },
    storage,
    redisHealth: () => redisHealth(redis),
    storeHealthy: async () => (await redisHealth(redis)) === 'connected',
    scheduleCleanup: async (run) => {
      const cleanup = await startClusterCleanup({
        url,
        prefix,
        intervalMs: config.cleanupIntervalSeconds * 1000,
        run,
        logger: logger.child({ component: 'cleanup' }),
      });
      return { stop: () => cleanup.close() };
    },
    async close() {
      await Promise.all([queue.close(), cache.close(), events.close()]);
      await Promise.all([jobs.close(), tokens.close(), jobChanges.close()]);
      const clients = socketClients ? [socketClients.pub, socketClients.sub] : [];
      await Promise.all([redis, ...clients].map((client) => closeRedis(client)));
    },
  };
}
