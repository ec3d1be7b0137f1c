/**
 * The worker's job handler (SPEC §3): a plain function of the payload and a context whose signal
 * aborts on cancel or shutdown. It records every final state itself and is idempotent: a second
 * delivery of a finished job changes nothing.
 */
import { mkdir, rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { AppError, type ErrorCategory } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import { newFileToken } from '../files/token.js';
import type { JobContext } from '../queue/job-queue.js';
import type { ObjectMeta, PutResult } from '../storage/object-storage.js';
import type { JobStore } from '../store/job-store.js';
import type { TokenStore } from '../store/token-store.js';
import type { DownloadRequest } from '../engine/ytdlp-engine.js';
import { findFormat } from '../videos/format-mapping.js';
import type { MediaUrl } from '../videos/media-url.js';
import type { MetadataService } from '../videos/metadata-service.js';
import type { JobPayload, Phase, Progress } from './job.js';
import { completedEvent, failedEvent, progressEvent, type LinkOptions } from './job-view.js';
import { contentTypeFor } from './content-type.js';
import { createProgressReporter } from './progress-reporter.js';

export interface DownloadJobDeps {
  jobs: Pick<JobStore, 'get' | 'update'>;
  tokens: Pick<TokenStore, 'issue' | 'revokeForJob'>;
  events: Pick<EventBus, 'publish'>;
  metadata: Pick<MetadataService, 'resolve' | 'assertDownloadable'>;
  /** `attempt` as the queue counts it: above 1, an earlier delivery's download may still run. */
  download(request: DownloadRequest, attempt: number): Promise<{ filePath: string }>;
  storage: {
    readonly uploads: boolean;
    put(key: string, filePath: string, meta: ObjectMeta): Promise<PutResult>;
    deleteJob(jobId: string): Promise<void>;
  };
  workDirFor(jobId: string): string;
  links: LinkOptions;
  fileTtlMs: number;
  downloadTimeoutMs: number;
  maxFilesize: number | null;
  minFreeDiskBytes: number;
  logger: Logger;
  clock?: () => number;
}

/** Settles like `promise`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Share of the bar given to the download itself; merging and storing take the rest. */
const DOWNLOAD_SHARE = 0.97;
const PHASE_FLOOR: Partial<Record<Phase, number>> = { merging: 97 };

export function createDownloadJobHandler(deps: DownloadJobDeps) {
  const now = deps.clock ?? Date.now;

  async function fail(jobId: string, category: ErrorCategory): Promise<void> {
    const job = await deps.jobs.update(
      jobId,
      { status: 'failed', errorCategory: category, progress: { speed: null, eta: null } },
      { ifStatus: ['pending', 'processing'] },
    );
    const event = job && failedEvent(job);
    if (event) deps.events.publish(event);
  }

  async function assertDiskSpace(dir: string): Promise<void> {
    if (deps.minFreeDiskBytes <= 0) return;
    const fs = await statfs(dir);
    if (fs.bavail * fs.bsize < deps.minFreeDiskBytes) {
      throw new AppError('system_error', { detail: 'not enough free disk space' });
    }
  }

  async function run(payload: JobPayload, ctx: JobContext, start: Progress, log: Logger): Promise<void> {
    const reporter = createProgressReporter({
      // A retry goes on from what clients were shown, so their bar never steps back.
      initial: start,
      save: (progress: Partial<Progress>) => deps.jobs.update(payload.jobId, { progress }, { ifStatus: ['processing'] }),
      publish: (progress: Progress) => deps.events.publish(progressEvent(payload.jobId, progress)),
      log,
    });
    const workDir = deps.workDirFor(payload.jobId);
    try {
      await mkdir(workDir, { recursive: true });
      await assertDiskSpace(workDir);
      await reporter.phase('extracting metadata');
      // The extraction may be shared with other requests, so it runs on; this job stops waiting.
      const { info, formats } = await untilAborted(deps.metadata.resolve(payload.url as MediaUrl), ctx.signal);
      deps.metadata.assertDownloadable(info);
      if (findFormat(formats, payload.formatId) === null) throw new AppError('format_not_supported');
      const infoJsonPath = path.join(workDir, 'info.json');
      await writeFile(infoJsonPath, JSON.stringify(info));

      await reporter.phase('downloading');
      const { filePath } = await deps.download({
        url: payload.url,
        formatId: payload.formatId,
        workDir,
        infoJsonPath,
        maxFilesize: deps.maxFilesize,
        timeoutMs: deps.downloadTimeoutMs,
        signal: ctx.signal,
        onProgress: (p) => {
          const scaled = Math.floor(p.percentage * DOWNLOAD_SHARE);
          const floor = PHASE_FLOOR[p.phase] ?? 0;
          reporter.report({ percentage: Math.max(scaled, floor), phase: p.phase, speed: p.speed, eta: p.eta });
        },
      }, ctx.attempt);
      ctx.signal.throwIfAborted();

      if (deps.storage.uploads) await reporter.phase('uploading');
      await reporter.flush();
      const name = path.basename(filePath);
      const meta: ObjectMeta = { contentType: contentTypeFor(name), downloadName: name };
      const stored = await deps.storage.put(`${payload.jobId}/${name}`, filePath, meta);
      await complete(payload.jobId, stored, meta);
    } finally {
      reporter.stop();
      await rm(workDir, { recursive: true, force: true });
    }
  }

  async function complete(jobId: string, stored: PutResult, meta: ObjectMeta): Promise<void> {
    const createdAt = now();
    const token = newFileToken();
    const expiresAt = createdAt + deps.fileTtlMs;
    await deps.tokens.issue({
      token,
      jobId,
      createdAt,
      expiresAt,
      file: { key: stored.key, name: meta.downloadName, size: stored.size, contentType: meta.contentType, storage: stored.storage },
    });
    const job = await deps.jobs.update(
      jobId,
      {
        status: 'completed',
        progress: { percentage: 100, phase: 'completed', speed: null, eta: null },
        token,
        expireAt: expiresAt,
      },
      { ifStatus: ['processing'] },
    );
    if (!job) {
      // Deleted (or cancelled) while the file was being stored: nothing may stay downloadable.
      await deps.tokens.revokeForJob(jobId);
      await deps.storage.deleteJob(jobId);
      return;
    }
    const event = completedEvent(job, deps.links);
    if (event) deps.events.publish(event);
  }

  return {
    async handle(payload: JobPayload, ctx: JobContext): Promise<void> {
      const log = deps.logger.child({ jobId: payload.jobId, attempt: ctx.attempt });
      const started = await deps.jobs.update(
        payload.jobId,
        { status: 'processing', progress: { speed: null, eta: null } },
        { ifStatus: ['pending', 'processing'] },
      );
      // Missing (deleted) or already finished: a redelivery must not touch it.
      if (!started) return;
      log.info({ url: payload.url, formatId: payload.formatId }, 'job started');
      try {
        await run(payload, ctx, started.progress, log);
        log.info('job completed');
      } catch (err) {
        if (ctx.signal.aborted) {
          // Shutdown hands the job back to the queue; a cancel has deleted it already.
          if (ctx.signal.reason === 'shutdown') throw err;
          log.info('job cancelled');
          return;
        }
        const category = err instanceof AppError ? err.category : 'system_error';
        if (err instanceof AppError && err.status < 500) log.info({ category, detail: err.detail }, 'job failed');
        else log.error({ err }, 'job failed');
        await fail(payload.jobId, category);
      }
    },

    /** A job whose worker died more often than its retry allows. */
    async onDead(payload: JobPayload): Promise<void> {
      deps.logger.warn({ jobId: payload.jobId }, 'job lost its worker twice; marking it failed');
      await fail(payload.jobId, 'system_error');
    },
  };
}

export type DownloadJobHandler = ReturnType<typeof createDownloadJobHandler>;
