/**
 * The mode switch (STYLE §5): the one place that picks adapters for `embedded` (SQLite, in-process
 * queue and events) or `distributed` (Redis, BullMQ, Socket.IO Redis adapter). Services never
 * branch on the mode; they get what this returns.
 */
import type { Logger } from 'pino';
import type { Cache } from './cache/cache.js';
import { createMemoryCache } from './cache/memory-cache.js';
import type { Config } from './config.js';
import type { EventBus } from './events/event-bus.js';
import { createLocalEventBus } from './events/local-event-bus.js';
import type { JobQueue } from './queue/job-queue.js';
import { createEmbeddedJobQueue } from './queue/embedded-job-queue.js';
import type { RateLimitBackend } from './ratelimit/rate-limit-store.js';
import type { createSocketGateway } from './realtime/socket-gateway.js';
import { startCleanupTimer, type CleanupReport } from './files/cleanup.js';
import { createLocalStorage } from './storage/local-storage.js';
import { createStorageSelector, type StorageSelector } from './storage/storage-selector.js';
import { createGcsStorage } from './storage/gcs-storage.js';
import type { JobStore } from './store/job-store.js';
import { openDatabase } from './store/sqlite-database.js';
import { createCachedJobStore } from './store/cached-job-store.js';
import { createSqliteJobStore } from './store/sqlite-job-store.js';
import { createSqliteTokenStore } from './store/sqlite-token-store.js';
import type { TokenStore } from './store/token-store.js';
import type { ServiceState } from './system/health-service.js';

export interface Adapters {
  jobs: JobStore;
  tokens: TokenStore;
  queue: JobQueue;
  cache: Cache;
  /** Where services publish job events. */
  events: EventBus;
  /** What the Socket.IO gateway listens to; null where the Socket.IO Redis adapter delivers. */
  gatewayEvents: EventBus | null;
  socketAdapter?: Parameters<typeof createSocketGateway>[0]['adapter'];
  rateLimitBackend: RateLimitBackend;
  storage: StorageSelector;
  redisHealth(): Promise<ServiceState>;
  storeHealthy(): Promise<boolean>;
  /** Runs `run` every CLEANUP_INTERVAL_SECONDS: per process when embedded, once per cluster otherwise. */
  scheduleCleanup(run: () => Promise<CleanupReport>): Promise<{ stop(): unknown }>;
  close(): Promise<void>;
}

export async function createAdapters(config: Config, logger: Logger): Promise<Adapters> {
  if (config.mode === 'distributed') {
    const { createDistributedAdapters } = await import('./distributed-adapters.js');
    return createDistributedAdapters(config, logger);
  }
  return createEmbeddedAdapters(config, logger);
}

/** Object storage for either mode: local disk, plus GCS when configured (SPEC §8). */
export function createStorage(config: Config, logger: Logger, sharedDisk: boolean): StorageSelector {
  const local = createLocalStorage({ downloadDir: config.downloadDir });
  const gcs =
    config.gcsEnabled && config.gcsBucketName
      ? createGcsStorage({
          bucketName: config.gcsBucketName,
          credentialsFile: config.googleApplicationCredentials,
          signedUrlTtlSeconds: config.signedUrlTtlSeconds,
          logger: logger.child({ component: 'gcs' }),
        })
      : null;
  return createStorageSelector({ local, gcs, sharedDisk, logger: logger.child({ component: 'storage' }) });
}

function createEmbeddedAdapters(config: Config, logger: Logger): Adapters {
  const db = openDatabase(config.dataDir);
  const jobTtlMs = config.jobTtlSeconds * 1000;
  // This process is the database's only writer, so the cache hears of every change.
  const jobs = createCachedJobStore(createSqliteJobStore(db, { jobTtlMs }), { jobTtlMs });
  const tokens = createSqliteTokenStore(db);
  const queue = createEmbeddedJobQueue(db, { logger: logger.child({ component: 'queue' }) });
  const cache = createMemoryCache();
  const events = createLocalEventBus({ logger: logger.child({ component: 'events' }) });
  const storage = createStorage(config, logger, true);

  return {
    jobs,
    tokens,
    queue,
    cache,
    events,
    gatewayEvents: events,
    rateLimitBackend: { kind: 'sqlite', db },
    storage,
    redisHealth: async () => 'not_configured',
    storeHealthy: async () => {
      db.prepare('SELECT 1').get();
      return true;
    },
    scheduleCleanup: async (run) =>
      startCleanupTimer({ run }, config.cleanupIntervalSeconds * 1000, logger.child({ component: 'cleanup' })),
    async close() {
      await Promise.all([queue.close(), cache.close(), events.close()]);
      await Promise.all([jobs.close(), tokens.close()]);
      db.close();
    },
  };
}
