/**
 * The Socket.IO event maps of SPEC §4, typed once, and the parsing of what clients send.
 * Client payloads are untrusted: they are typed `unknown` here and parsed before use.
 */
import type { JobEventMap } from '../events/event-bus.js';

export interface ConnectedPayload {
  message: string;
  client_id: string;
}

export interface SubscriptionPayload {
  job_id: string;
  message: string;
}

/** `job_id` is absent when the request itself was unusable (e.g. `Missing job_id`). */
export interface ErrorPayload {
  message: string;
  job_id?: string;
}

export interface PongPayload {
  /** Unix milliseconds, as `Date.now()` on the server. */
  timestamp: number;
}

type JobEventListeners = { [K in keyof JobEventMap]: (payload: JobEventMap[K]) => void };

/** Server → client. The job events are the ones services publish through the EventBus port. */
export interface ServerToClientEvents extends JobEventListeners {
  connected: (payload: ConnectedPayload) => void;
  subscribed: (payload: SubscriptionPayload) => void;
  unsubscribed: (payload: SubscriptionPayload) => void;
  error: (payload: ErrorPayload) => void;
  pong: (payload: PongPayload) => void;
}

/** Client → server. Payloads may be objects or JSON strings, or anything else a client sends. */
export interface ClientToServerEvents {
  subscribe_job: (payload?: unknown) => void;
  unsubscribe_job: (payload?: unknown) => void;
  cancel_job: (payload?: unknown) => void;
  ping: (payload?: unknown) => void;
}

export const JOB_EVENT_NAMES: ReadonlySet<string> = new Set<keyof JobEventMap>([
  'job_progress',
  'job_completed',
  'job_failed',
  'job_cancelled',
]);

/** Job ids are ours (random, short); anything longer is not one and is not worth a room. */
export const MAX_JOB_ID_LENGTH = 100;

export const MESSAGES = {
  connected: 'Connected to ultra-dl',
  subscribed: (jobId: string) => `Subscribed to job ${jobId}`,
  unsubscribed: (jobId: string) => `Unsubscribed from job ${jobId}`,
  missingJobId: 'Missing job_id',
  jobNotFound: 'Job not found',
  tooManySubscriptions: (max: number) => `Too many subscriptions (at most ${max} jobs per connection)`,
  replayFailed: 'Could not load the job state, please try again',
  cancelFailed: 'Could not cancel the job, please try again',
} as const;

/**
 * The `job_id` of a client payload, or null when there is none usable. Accepts `{job_id}` or the
 * same object as a JSON string (older Socket.IO clients and hand-written ones send strings).
 */
export function parseJobId(payload: unknown): string | null {
  let value = payload;
  if (typeof value === 'string') {
    // A JSON string can hold at most a job id plus a little framing; refuse to parse more.
    if (value.length > MAX_JOB_ID_LENGTH * 2 + 64) return null;
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return null;
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const jobId = (value as Record<string, unknown>).job_id;
  if (typeof jobId !== 'string') return null;
  if (jobId.length === 0 || jobId.length > MAX_JOB_ID_LENGTH || jobId.trim() !== jobId) return null;
  return jobId;
}
