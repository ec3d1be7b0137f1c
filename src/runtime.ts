/**
 * Starts the roles of one process over the adapters of its mode, and stops them in order. The
 * mode decides only which adapters `createAdapters` returns; everything here is the same in both.
 */
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import type { Logger } from 'pino';
import { createAdapters } from './adapters.js';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { createDownloadJobHandler } from './downloads/download-job.js';
import { isActive } from './downloads/job.js';
import { createDownloadService } from './downloads/download-service.js';
import { probeFfmpeg, probeYtdlp } from './engine/ytdlp-probe.js';
import { createYtdlpEngine } from './engine/ytdlp-engine.js';
import { createCleanup } from './files/cleanup.js';
import { workDirFor, workRootFor } from './storage/local-storage.js';
import { reapOrphanedDownloads } from './engine/orphan-reaper.js';
import { registerErrorHandling } from './http/error-handler.js';
import type { Consumer } from './queue/job-queue.js';
import { createRateLimitService } from './ratelimit/rate-limit-service.js';
import { createHealthService } from './system/health-service.js';
import { registerHealthRoutes } from './system/health-routes.js';
import { packageVersion } from './system/version.js';
import { createMetadataService } from './videos/metadata-service.js';

export type Role = 'api' | 'worker';

export interface Runtime {
  /** The API's address once listening (`http://host:port`), or null for a worker-only process. */
  url: string | null;
  app: FastifyInstance | null;
  shutdown(): Promise<void>;
}

/** Metadata extraction is interactive (a user waits on it): bound it well below the job timeout. */
const EXTRACT_TIMEOUT_MS = 60_000;
/** Leaves time within SHUTDOWN_GRACE_SECONDS for closing sockets and stores after the jobs. */
const SHUTDOWN_MARGIN_MS = 3_000;

/**
 * Stops accepting and lets requests in flight (file downloads) finish within the grace period,
 * then cuts off whatever still streams.
 */
async function closeApp(app: FastifyInstance, graceMs: number): Promise<void> {
  const closing = app.close();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closing, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
  clearTimeout(timer);
  app.server.closeAllConnections();
  await closing;
}

export async function startRuntime(options: { config: Config; roles: Role[]; logger: Logger }): Promise<Runtime> {
  const { config, roles, logger } = options;
  const version = packageVersion();
  await mkdir(config.downloadDir, { recursive: true });

  const [ytdlp, ffmpegVersion] = await Promise.all([probeYtdlp(config.ytdlpPath), probeFfmpeg(config.ffmpegPath)]);
  if (ytdlp.version === null) {
    logger.error({ ytdlpPath: config.ytdlpPath }, 'yt-dlp was not found: install it or set YTDLP_PATH');
  }
  if (ffmpegVersion === null) {
    logger.warn({ ffmpegPath: config.ffmpegPath }, 'ffmpeg was not found: A+B formats cannot be merged');
  }

  const adapters = await createAdapters(config, logger);
  const engine = createYtdlpEngine({
    ytdlpPath: config.ytdlpPath,
    ffmpegPath: config.ffmpegPath,
    cookiesFile: config.ytdlpCookiesFile,
    proxy: config.ytdlpProxy,
    features: ytdlp.features,
    logger: logger.child({ component: 'yt-dlp' }),
  });
  const metadata = createMetadataService({
    extractInfo: (url) => engine.extractInfo(url, { timeoutMs: EXTRACT_TIMEOUT_MS }),
    cache: adapters.cache,
    ttlSeconds: config.metadataCacheTtlSeconds,
    maxDurationSeconds: config.maxDurationSeconds,
  });
  const links = { publicBaseUrl: config.publicBaseUrl };
  const cleanup = createCleanup({
    jobs: adapters.jobs,
    tokens: adapters.tokens,
    storageFor: adapters.storage.storageFor,
    downloadDir: config.downloadDir,
    jobTtlMs: config.jobTtlSeconds * 1000,
    logger: logger.child({ component: 'cleanup' }),
  });

  let app: FastifyInstance | null = null;
  let url: string | null = null;
  let consumer: Consumer | null = null;
  const stoppers: (() => unknown)[] = [];

  const rateLimits = createRateLimitService({ config, backend: adapters.rateLimitBackend, logger });
  const health = createHealthService({
    mode: config.mode,
    version,
    ytdlpVersion: ytdlp.version,
    ffmpegVersion,
    socketio: config.socketioEnabled && roles.includes('api'),
    downloadDir: config.downloadDir,
    redis: adapters.redisHealth,
    store: adapters.storeHealthy,
    queue: adapters.queue,
    gcs: () => adapters.storage.gcsHealth(),
    extras: () => ({ rate_limit_fail_open: rateLimits.stats().failOpen }),
  });
  if (roles.includes('api')) {
    const downloads = createDownloadService({
      jobs: adapters.jobs,
      tokens: adapters.tokens,
      queue: adapters.queue,
      events: adapters.events,
      deleteFiles: (jobId) => adapters.storage.deleteJob(jobId),
      metadata,
      limits: rateLimits,
      policy: { allowedHosts: config.allowedHosts },
      links,
      maxQueuedJobs: config.maxQueuedJobs,
      maxActiveJobsPerClient: config.maxActiveJobsPerClient,
    });
    const built = await buildApp({
      config,
      version,
      logger,
      downloads,
      metadata,
      policy: { allowedHosts: config.allowedHosts },
      tokens: adapters.tokens,
      storageFor: adapters.storage.storageFor,
      health,
      rateLimits,
      gatewayEvents: adapters.gatewayEvents,
      socketAdapter: adapters.socketAdapter,
    });
    app = built.app;
    url = await app.listen({ port: config.port, host: config.host });
    logger.info({ url, mode: config.mode }, 'ultra-dl API listening');
  }

  if (roles.includes('worker')) {
    const handler = createDownloadJobHandler({
      jobs: adapters.jobs,
      tokens: adapters.tokens,
      events: adapters.events,
      metadata,
      download: async (request) => {
        // A retry of a job whose worker was killed on this host: its yt-dlp may still write here.
        await reapOrphanedDownloads(request.workDir);
        return engine.download(request);
      },
      storage: adapters.storage,
      workDirFor: (jobId) => workDirFor(config.downloadDir, jobId),
      links,
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
      cleanup.sweepWorkDirs(isJobActive).catch((err: unknown) => logger.warn({ err }, 'work dir sweep failed'));
    await sweep();
    const sweeper = setInterval(sweep, config.cleanupIntervalSeconds * 1000);
    sweeper.unref();
    stoppers.push(() => clearInterval(sweeper));
    consumer = await adapters.queue.consume(handler.handle, {
      concurrency: config.workerConcurrency,
      onDead: handler.onDead,
    });
    logger.info({ concurrency: config.workerConcurrency }, 'worker started');
    if (!roles.includes('api')) {
      const workerApp = Fastify({ loggerInstance: logger as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
      registerErrorHandling(workerApp);
      registerHealthRoutes(workerApp, { health });
      url = null;
      const workerUrl = await workerApp.listen({ port: config.workerPort, host: config.host });
      logger.info({ url: workerUrl }, 'worker health listening');
      stoppers.push(() => workerApp.close());
    }
  }

  const scheduled = await adapters.scheduleCleanup(() => cleanup.run());
  stoppers.push(() => scheduled.stop());

  return {
    url,
    app,
    async shutdown() {
      const graceMs = Math.max(0, config.shutdownGraceSeconds * 1000 - SHUTDOWN_MARGIN_MS);
      // Stop accepting first; then running jobs finish or go back to the queue.
      await Promise.all([app && closeApp(app, graceMs), consumer?.close(graceMs)]);
      for (const stop of stoppers) await stop();
      rateLimits.close();
      await adapters.close();
    },
  };
}
