import type { Job, JobStatus, Progress } from '../downloads/job.js';
import type { ErrorCategory } from '../errors.js';

export interface JobPatch {
  status?: JobStatus;
  /** Merged into the stored progress; `percentage` never lowers the stored value. */
  progress?: Partial<Progress>;
  token?: string | null;
  expireAt?: number | null;
  errorCategory?: ErrorCategory | null;
}

export interface UpdateOptions {
  /** Apply the patch only when the stored status is one of these (compare-and-set). */
  ifStatus?: JobStatus[];
}

/**
 * Job records (SPEC §3). A record lives `JOB_TTL_SECONDS` after its last update; `updatedAt` is set
 * by the store. All methods are atomic per job.
 */
export interface JobStore {
  get(id: string): Promise<Job | null>;
  /** Jobs in the order of `ids`, null where missing; one round-trip. */
  getMany(ids: string[]): Promise<(Job | null)[]>;
  /** Inserts a new job; throws if the id exists. */
  create(job: Job): Promise<void>;
  /**
   * Applies `patch` and returns the job after it, or null when the job is missing or its status
   * is not in `ifStatus`. The stored percentage is `max(stored, patch)`, atomically.
   */
  update(id: string, patch: JobPatch, options?: UpdateOptions): Promise<Job | null>;
  /** Returns true when a job was deleted. */
  delete(id: string): Promise<boolean>;
  /** Ids of jobs whose last update is older than `olderThan` (ms), at most `limit`. */
  expired(olderThan: number, limit: number): Promise<string[]>;
  /** Number of pending or processing jobs of a client. */
  countActiveForClient(clientKey: string): Promise<number>;
  close(): Promise<void>;
}
