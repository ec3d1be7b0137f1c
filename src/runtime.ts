/**
 * Starts the roles of one process over the adapters of its mode, and stops them in order. The
 * mode decides only which adapters `createAdapters` returns; everything here is the same in both.
 */
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createAdapters } from './adapters.js';
import type { Config } from './config.js';
import { probeFfmpeg, probeYtdlp } from './engine/ytdlp-probe.js';
import { createYtdlpEngine } from './engine/ytdlp-engine.js';
import { createCleanup } from './files/cleanup.js';
import { createRateLimitService } from './ratelimit/rate-limit-service.js';
import { startApiRole, startWorkerRole, type RoleHandle, type Services } from './roles.js';
import { createHealthService } from './system/health-service.js';
import { createMetrics } from './system/metrics.js';
import { packageVersion } from './system/version.js';
import { createMetadataService } from './videos/metadata-service.js';

export type Role = 'api' | 'worker';

export interface Runtime {
  /** The API's address once listening (`http://host:port`), or null for a worker-only process. */
  url: string | null;
  app: FastifyInstance | null;
  shutdown(): Promise<void>;
}

/** Leaves time within SHUTDOWN_GRACE_SECONDS for closing sockets and stores after the jobs. */
const SHUTDOWN_MARGIN_MS = 3_000;

async function createServices(config: Config, logger: Logger, roles: Role[]): Promise<Services> {
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
    extractInfo: (url) => engine.extractInfo(url),
    cache: adapters.cache,
    ttlSeconds: config.metadataCacheTtlSeconds,
    maxDurationSeconds: config.maxDurationSeconds,
  });
  const cleanup = createCleanup({
    jobs: adapters.jobs,
    tokens: adapters.tokens,
    storageFor: adapters.storage.storageFor,
    downloadDir: config.downloadDir,
    jobTtlMs: config.jobTtlSeconds * 1000,
    logger: logger.child({ component: 'cleanup' }),
  });
  const rateLimits = createRateLimitService({ config, backend: adapters.rateLimitBackend, logger });
  const version = packageVersion();
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
  const metrics = createMetrics({ queue: adapters.queue, rateLimitFailOpens: () => rateLimits.stats().failOpen });
  return { config, logger, version, adapters, engine, metadata, cleanup, rateLimits, health, metrics };
}

export async function startRuntime(options: { config: Config; roles: Role[]; logger: Logger }): Promise<Runtime> {
  const { config, roles, logger } = options;
  const services = await createServices(config, logger, roles);
  const handles: RoleHandle[] = [];
  // The worker first: once `serve` listens, its health already counts a live worker.
  if (roles.includes('worker')) handles.push(await startWorkerRole(services, { healthServer: !roles.includes('api') }));
  if (roles.includes('api')) handles.push(await startApiRole(services));
  const scheduled = await services.adapters.scheduleCleanup(() => services.cleanup.run());
  const api = handles.find((h) => h.app);

  return {
    url: api?.url ?? null,
    app: api?.app ?? null,
    async shutdown() {
      const graceMs = Math.max(0, config.shutdownGraceSeconds * 1000 - SHUTDOWN_MARGIN_MS);
      // Stop accepting first; meanwhile running jobs finish or go back to the queue.
      await Promise.all(handles.map((h) => h.stop(graceMs)));
      await scheduled.stop();
      services.rateLimits.close();
      await services.adapters.close();
    },
  };
}
