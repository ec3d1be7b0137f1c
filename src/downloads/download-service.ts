/**
 * Creating, reading and deleting download jobs (SPEC §2, §3). Input is validated and the format's
 * type decided before any rate-limit quota is spent.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { JobQueue } from '../queue/job-queue.js';
import { hashClientKey } from '../ratelimit/client-ip.js';
import type { JobStore } from '../store/job-store.js';
import type { TokenStore } from '../store/token-store.js';
import { downloadTypeFromId, parseFormatId } from '../videos/format-id.js';
import { findFormat } from '../videos/format-mapping.js';
import { assertPublicHost, parseMediaUrl, type UrlPolicy } from '../videos/media-url.js';
import type { MetadataService } from '../videos/metadata-service.js';
import { isActive, newJob, type DownloadType, type Job } from './job.js';
import { cancelledEvent, stateEvent, statusTimeRemaining, toJobStatus, type JobStatusBody, type LinkOptions } from './job-view.js';

/** What the service needs of the rate limiter (SPEC §7); a no-op when limiting is off. */
export interface DownloadLimits {
  /** True when no limit applies to this client (limiting off, or whitelisted). */
  isExempt(ip: string): boolean;
  /** Spends the download quotas; resolves the X-RateLimit-* headers or throws the 429. */
  consumeDownload(ip: string, type: DownloadType): Promise<Record<string, string>>;
  refundDownload(ip: string, type: DownloadType): Promise<void>;
  activeJobsError(): AppError;
}

export interface DownloadServiceDeps {
  jobs: JobStore;
  tokens: Pick<TokenStore, 'revokeForJob'>;
  queue: Pick<JobQueue, 'enqueue' | 'cancel' | 'counts'>;
  events: Pick<EventBus, 'publish'>;
  /** Deletes every stored object of a job, wherever it is kept. */
  deleteFiles(jobId: string): Promise<void>;
  metadata: Pick<MetadataService, 'peek' | 'assertDownloadable'>;
  limits: DownloadLimits;
  policy: UrlPolicy;
  links: LinkOptions;
  maxQueuedJobs: number;
  maxActiveJobsPerClient: number;
  clock?: () => number;
}

/** Suggested wait when the queue is full (SPEC §10), in seconds. */
const QUEUE_FULL_RETRY_AFTER_S = 30;

export interface CreateRequest {
  url: unknown;
  formatId: unknown;
  /** The client's address as resolved through TRUST_PROXY. */
  ip: string;
}

/** Job ids are UUIDs: anything longer cannot exist, and never reaches a store. */
const MAX_JOB_ID_LENGTH = 100;

export function createDownloadService(deps: DownloadServiceDeps) {
  const now = deps.clock ?? Date.now;
  // A cached job stays one object until it changes (store/cached-job-store.ts), so a poll builds
  // its status body once per record and second.
  const statusBodies = new WeakMap<Job, JobStatusBody>();
  const findJob = (jobId: string) => (jobId.length > MAX_JOB_ID_LENGTH ? Promise.resolve(null) : deps.jobs.get(jobId));

  async function decideType(url: Parameters<MetadataService['peek']>[0], formatId: string): Promise<DownloadType> {
    const cached = await deps.metadata.peek(url);
    if (!cached) return downloadTypeFromId(formatId);
    deps.metadata.assertDownloadable(cached.info);
    const format = findFormat(cached.formats, formatId);
    if (format === null) throw new AppError('format_not_supported');
    return format.type;
  }

  async function assertCapacity(ip: string, clientKey: string): Promise<void> {
    const counts = await deps.queue.counts();
    if (counts.waiting >= deps.maxQueuedJobs) {
      throw new AppError('system_error', {
        status: 503,
        headers: { 'Retry-After': String(QUEUE_FULL_RETRY_AFTER_S) },
        detail: 'queue is full',
      });
    }
    if (!deps.limits.isExempt(ip)) {
      const active = await deps.jobs.countActiveForClient(clientKey);
      if (active >= deps.maxActiveJobsPerClient) throw deps.limits.activeJobsError();
    }
  }

  return {
    async create(request: CreateRequest) {
      const url = parseMediaUrl(request.url, deps.policy);
      const formatId = parseFormatId(request.formatId);
      await assertPublicHost(url, deps.policy);
      const type = await decideType(url, formatId);
      const clientKey = hashClientKey(request.ip);
      await assertCapacity(request.ip, clientKey);

      const headers = await deps.limits.consumeDownload(request.ip, type);
      const job = newJob({ id: randomUUID(), url, formatId, downloadType: type, clientKey, now: now() });
      try {
        await deps.jobs.create(job);
        await deps.queue.enqueue({ jobId: job.id, url, formatId });
      } catch (err) {
        await deps.jobs.delete(job.id).catch(() => undefined);
        await deps.limits.refundDownload(request.ip, type).catch(() => undefined);
        throw err;
      }
      return {
        headers,
        body: { job_id: job.id, status: 'pending' as const, message: 'Download job created successfully' },
      };
    },

    async status(jobId: string): Promise<JobStatusBody> {
      const job = await findJob(jobId);
      if (!job) throw new AppError('job_not_found');
      const at = now();
      const known = statusBodies.get(job);
      if (known && known.time_remaining === statusTimeRemaining(job, at)) return known;
      const body = toJobStatus(job, at, deps.links);
      statusBodies.set(job, body);
      return body;
    },

    /**
     * Cancels a running or waiting job and deletes it with its files and token. Resolves false
     * when there is no such job.
     */
    async remove(jobId: string): Promise<boolean> {
      const job = await findJob(jobId);
      if (!job) return false;
      if (isActive(job.status)) await deps.queue.cancel(jobId);
      // The record goes first: a worker finishing at this moment then finds no job to complete
      // and removes what it stored itself.
      await deps.jobs.delete(jobId);
      await deps.tokens.revokeForJob(jobId);
      await deps.deleteFiles(jobId);
      if (isActive(job.status)) deps.events.publish(cancelledEvent(jobId));
      return true;
    },

    async replay(jobId: string) {
      const job = await findJob(jobId);
      return job ? stateEvent(job, deps.links) : null;
    },
  };
}

export type DownloadService = ReturnType<typeof createDownloadService>;
