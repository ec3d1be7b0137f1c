/**
 * The job model (SPEC §2, §3): what the store keeps and what the status endpoint shows.
 * Times are unix milliseconds inside the service and ISO-8601 only at the edge.
 */
import type { ErrorCategory } from '../errors.js';

export type JobStatus = 'pending' | 'processing' | 'completed' | 'failed';

export type Phase =
  | 'initializing'
  | 'extracting metadata'
  | 'downloading'
  | 'merging'
  | 'uploading'
  | 'completed';

/** The type of a chosen format, as the rate limits count it (SPEC §7). */
export type DownloadType = 'video-only' | 'audio-only' | 'video-audio';

export interface Progress {
  /** Integer 0–100, never decreasing for a job. */
  percentage: number;
  phase: Phase;
  /** Human text such as `"2.0 MB/s"`, or null. */
  speed: string | null;
  /** Whole seconds, or null. */
  eta: number | null;
}

export interface Job {
  id: string;
  url: string;
  formatId: string;
  downloadType: DownloadType;
  status: JobStatus;
  progress: Progress;
  /** The file token once completed. */
  token: string | null;
  /** When the completed file's token expires (ms). */
  expireAt: number | null;
  errorCategory: ErrorCategory | null;
  /** Opaque client key (hashed IP or API key) for per-client bounds; never the raw IP. */
  clientKey: string | null;
  createdAt: number;
  updatedAt: number;
}

export const INITIAL_PROGRESS: Progress = {
  percentage: 0,
  phase: 'initializing',
  speed: null,
  eta: null,
};

export function newJob(fields: {
  id: string;
  url: string;
  formatId: string;
  downloadType: DownloadType;
  clientKey: string | null;
  now: number;
}): Job {
  return {
    id: fields.id,
    url: fields.url,
    formatId: fields.formatId,
    downloadType: fields.downloadType,
    status: 'pending',
    progress: { ...INITIAL_PROGRESS },
    token: null,
    expireAt: null,
    errorCategory: null,
    clientKey: fields.clientKey,
    createdAt: fields.now,
    updatedAt: fields.now,
  };
}

export function isActive(status: JobStatus): boolean {
  return status === 'pending' || status === 'processing';
}

/** What a worker receives through the queue. */
export interface JobPayload {
  jobId: string;
  url: string;
  formatId: string;
}
