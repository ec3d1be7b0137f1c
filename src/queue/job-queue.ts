import type { JobPayload } from '../downloads/job.js';

/** Why a running job's signal was aborted. */
export type AbortReason = 'cancelled' | 'shutdown';

export interface JobContext {
  jobId: string;
  /** 1 on the first delivery; a retry after a crash is 2. A graceful requeue does not count. */
  attempt: number;
  /** Aborted on cancel or shutdown; `signal.reason` is an `AbortReason`. */
  signal: AbortSignal;
}

/**
 * A job handler is a plain function (STYLE §14). It resolves when the job reached a final state it
 * recorded itself. Rejecting with the signal's reason `shutdown` hands the job back to the queue.
 */
export type JobHandler = (payload: JobPayload, ctx: JobContext) => Promise<void>;

export interface ConsumeOptions {
  concurrency: number;
  /**
   * Called for a job whose worker died more often than the retry allows, so it can be marked
   * failed rather than stay `processing` forever.
   */
  onDead(payload: JobPayload): Promise<void>;
}

export interface Consumer {
  /**
   * Stops taking jobs; waits up to `graceMs` for running ones, then aborts them with `shutdown`
   * and hands them back to the queue without using up their retry.
   */
  close(graceMs: number): Promise<void>;
}

export interface QueueCounts {
  waiting: number;
  active: number;
}

/** The job queue (SPEC §3). The queue job id is the ultra-dl job id. */
export interface JobQueue {
  /** Enqueues a job; throws when the queue was closed or is unreachable. */
  enqueue(payload: JobPayload): Promise<void>;
  /**
   * Removes a waiting job, or aborts a running one with `cancelled` on whichever worker runs it.
   * Resolves true when the job was found waiting or running.
   */
  cancel(jobId: string): Promise<boolean>;
  consume(handler: JobHandler, options: ConsumeOptions): Promise<Consumer>;
  counts(): Promise<QueueCounts>;
  /** True when at least one consumer is alive. */
  hasLiveWorker(): Promise<boolean>;
  close(): Promise<void>;
}
