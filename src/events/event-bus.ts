import type { Progress } from '../downloads/job.js';
import type { ErrorCategory } from '../errors.js';

/** The server-to-client job events of SPEC §4, typed once. */
export interface JobEventMap {
  job_progress: { job_id: string; progress: Progress };
  job_completed: { job_id: string; status: 'completed'; download_url: string; expire_at: string };
  job_failed: { job_id: string; status: 'failed'; error: string; error_category: ErrorCategory };
  job_cancelled: { job_id: string; status: 'cancelled'; message: string };
}

export type JobEventName = keyof JobEventMap;

export type JobEvent = {
  [K in JobEventName]: { name: K; payload: JobEventMap[K] };
}[JobEventName];

/**
 * Publishes job events to every subscriber of room `<job_id>`, in whichever process its socket is
 * connected. Services publish here; only the realtime gateway touches Socket.IO.
 */
export interface EventBus {
  publish(event: JobEvent): void;
  /** Receives the events published in this process's reach; returns an unsubscribe function. */
  subscribe(handler: (event: JobEvent) => void): () => void;
  close(): Promise<void>;
}
