/**
 * What clients see of a job: the status body of `GET /jobs/{id}` and the Socket.IO event that
 * replays its current state (SPEC §2, §4). Pure functions of the job and the clock.
 */
import { jobErrorString } from '../errors.js';
import type { JobEvent } from '../events/event-bus.js';
import type { Job, Progress } from './job.js';

export interface LinkOptions {
  /** `PUBLIC_BASE_URL` without a trailing slash, or null for relative links. */
  publicBaseUrl: string | null;
}

export interface JobStatusBody {
  job_id: string;
  status: Job['status'];
  progress: Progress;
  download_url: string | null;
  expire_at: string | null;
  time_remaining: number | null;
  error: string | null;
  error_category: string | null;
}

export function downloadUrl(token: string, options: LinkOptions): string {
  return `${options.publicBaseUrl ?? ''}/api/v1/downloads/file/${token}`;
}

/** Whole seconds left on a completed job's link: ≥ 1 while it is valid, 0 after. */
export function timeRemaining(expireAt: number, now: number): number {
  return expireAt > now ? Math.max(1, Math.ceil((expireAt - now) / 1000)) : 0;
}

function isDownloadable(job: Job): boolean {
  return job.status === 'completed' && job.token !== null && job.expireAt !== null;
}

/** The status body's `time_remaining` at `now`: whole seconds of a completed job's link, else null. */
export function statusTimeRemaining(job: Job, now: number): number | null {
  return isDownloadable(job) ? timeRemaining(job.expireAt!, now) : null;
}

export function toJobStatus(job: Job, now: number, options: LinkOptions): JobStatusBody {
  const completed = isDownloadable(job);
  return {
    job_id: job.id,
    status: job.status,
    progress: { ...job.progress },
    download_url: completed ? downloadUrl(job.token!, options) : null,
    expire_at: completed ? new Date(job.expireAt!).toISOString() : null,
    time_remaining: statusTimeRemaining(job, now),
    error: job.status === 'failed' && job.errorCategory ? jobErrorString(job.errorCategory) : null,
    error_category: job.status === 'failed' ? job.errorCategory : null,
  };
}

export function progressEvent(jobId: string, progress: Progress): JobEvent {
  return { name: 'job_progress', payload: { job_id: jobId, progress: { ...progress } } };
}

export function completedEvent(job: Job, options: LinkOptions): JobEvent | null {
  if (job.token === null || job.expireAt === null) return null;
  return {
    name: 'job_completed',
    payload: {
      job_id: job.id,
      status: 'completed',
      download_url: downloadUrl(job.token, options),
      expire_at: new Date(job.expireAt).toISOString(),
    },
  };
}

export function failedEvent(job: Job): JobEvent | null {
  if (job.errorCategory === null) return null;
  return {
    name: 'job_failed',
    payload: {
      job_id: job.id,
      status: 'failed',
      error: jobErrorString(job.errorCategory),
      error_category: job.errorCategory,
    },
  };
}

export const CANCELLED_MESSAGE = 'Job cancelled successfully';

export function cancelledEvent(jobId: string): JobEvent {
  return {
    name: 'job_cancelled',
    payload: { job_id: jobId, status: 'cancelled', message: CANCELLED_MESSAGE },
  };
}

/** The event that tells a late subscriber where the job stands now. */
export function stateEvent(job: Job, options: LinkOptions): JobEvent | null {
  switch (job.status) {
    case 'completed':
      return completedEvent(job, options);
    case 'failed':
      return failedEvent(job);
    default:
      return progressEvent(job.id, job.progress);
  }
}
