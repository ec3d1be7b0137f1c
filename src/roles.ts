/**
 * The two process roles (STYLE §6): the API (HTTP + Socket.IO) and the worker (consumes the queue).
 * Every role may enqueue; only workers consume.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Adapters } from './adapters.js';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { createDownloadJobHandler } from './downloads/download-job.js';
import { createDownloadService } from './downloads/download-service.js';
import { isActive } from './downloads/job.js';
import { reapOrphanedDownloads } from './engine/orphan-reaper.js';
import type { createYtdlpEngine } from './engine/ytdlp-engine.js';
import type { createCleanup } from './files/cleanup.js';
import { registerErrorHandling } from './http/error-handler.js';
import type { RateLimitService } from './ratelimit/rate-limit-service.js';
import { workDirFor, workRootFor } from './storage/local-storage.js';
import { registerHealthRoutes } from './system/health-routes.js';
import type { HealthService } from './system/health-service.js';
import { registerMetricsRoute, type Metrics } from './system/metrics.js';
import type { MetadataService } from './videos/metadata-service.js';
import { settlesWithin } from './time-limits.js';

/** Everything a role is built from; made once per process by the runtime. */
export interface Services {
  config: Config;
  logger: Logger;
  version: string;
  adapters: Adapters;
  engine: ReturnType<typeof createYtdlpEngine>;
  metadata: MetadataService;
  cleanup: ReturnType<typeof createCleanup>;
  rateLimits: RateLimitService;
  health: HealthService;
  metrics: Metrics;
}

export interface RoleHandle {
  url: string | null;
  app: FastifyInstance | null;
  /** Stops the role, giving work in flight up to `graceMs`. */
  stop(graceMs: number): Promise<void>;
}

/**
 * Stops accepting and lets requests in flight (file downloads) finish within the grace period,
 * then cuts off whatever still streams.
 */
async function closeApp(app: FastifyInstance, graceMs: number): Promise<void> {
  const closing = app.close();
  await settlesWithin(closing, graceMs);
  app.server.closeAllConnections();
  await closing;
}

export async function startApiRole(s: Services): Promise<RoleHandle> {
  const { config, adapters } = s;
  const policy = { allowedHosts: config.allowedHosts };
  const downloads = createDownloadService({
    jobs: adapters.jobs,
    tokens: adapters.tokens,
    queue: adapters.queue,
    events: adapters.events,
    deleteFiles: (jobId) => adapters.storage.deleteJob(jobId),
    metadata: s.metadata,
    limits: s.rateLimits,
    policy,
    links: { publicBaseUrl: config.publicBaseUrl },
    maxQueuedJobs: config.maxQueuedJobs,
    maxActiveJobsPerClient: config.maxActiveJobsPerClient,
  });
  const { app, gateway } = await buildApp({
    config,
    version: s.version,
    logger: s.logger,
    downloads,
    metadata: s.metadata,
    policy,
    tokens: adapters.tokens,
    storageFor: adapters.storage.storageFor,
    health: s.health,
    rateLimits: s.rateLimits,
    gatewayEvents: adapters.gatewayEvents,
    socketAdapter: adapters.socketAdapter,
  });
  registerMetricsRoute(app, s.metrics);
  if (gateway) s.metrics.watchSockets(() => gateway.stats().clients);
  const url = await app.listen({ port: config.port, host: config.host });
  s.logger.info({ url, mode: config.mode }, 'ultra-dl API listening');
  return { url, app, stop: (graceMs) => closeApp(app, graceMs) };
}

export async function startWorkerRole(s: Services, options: { healthServer: boolean }): Promise<RoleHandle> {
  const { config, adapters, logger } = s;
  const handler = createDownloadJobHandler({
    jobs: adapters.jobs,
    tokens: adapters.tokens,
    events: s.metrics.countingEvents(adapters.events),
    metadata: s.metadata,
    download: async (request, attempt) => {
      // A retry of a job whose worker was killed on this host: its yt-dlp may still write here.
      // (Scanning every process costs a few ms, so first deliveries skip it.)
      if (attempt > 1) await reapOrphanedDownloads(request.workDir);
      return s.engine.download(request);
    },
    storage: adapters.storage,
    workDirFor: (jobId) => workDirFor(config.downloadDir, jobId),
    links: { publicBaseUrl: config.publicBaseUrl },
    fileTtlMs: config.fileTtlMinutes * 60_000,
    downloadTimeoutMs: config.downloadTimeoutSeconds * 1000,
    maxFilesize: config.maxFilesize,
    minFreeDiskBytes: config.minFreeDiskMb * 1024 * 1024,
    logger: logger.child({ component: 'worker' }),
  });

  const orphans = await reapOrphanedDownloads(workRootFor(config.downloadDir));
  if (orphans > 0) logger.warn({ orphans }, 'ended downloads left running by a worker that died');
  // Probes the bucket once, so that early jobs do not each wait on an unusable one.
  await adapters.storage.start();
  const isJobActive = async (jobId: string) => {
    const job = await adapters.jobs.get(jobId);
    return job !== null && isActive(job.status);
  };
  const sweep = () =>
    s.cleanup.sweepWorkDirs(isJobActive).catch((err: unknown) => logger.warn({ err }, 'work dir sweep failed'));
  await sweep();
  const sweeper = setInterval(sweep, config.cleanupIntervalSeconds * 1000);
  sweeper.unref();

  const consumer = await adapters.queue.consume(handler.handle, {
    concurrency: config.workerConcurrency,
    onDead: handler.onDead,
  });
  logger.info({ concurrency: config.workerConcurrency }, 'worker started');

  let healthApp: FastifyInstance | null = null;
  if (options.healthServer) {
    healthApp = Fastify({ logger: false });
    registerErrorHandling(healthApp, logger);
    registerHealthRoutes(healthApp, { health: s.health });
    registerMetricsRoute(healthApp, s.metrics);
    const url = await healthApp.listen({ port: config.workerPort, host: config.host });
    logger.info({ url }, 'worker health listening');
  }
  return {
    url: null,
    app: null,
    async stop(graceMs) {
      clearInterval(sweeper);
      await consumer.close(graceMs);
      await healthApp?.close();
    },
  };
}
