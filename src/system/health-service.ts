/**
 * The health report of SPEC §2. Degraded (503) when the store or the queue is unreachable, no
 * worker is alive, or yt-dlp is missing; a GCS problem does not degrade, since jobs fall back.
 */
import { statfs } from 'node:fs/promises';
import type { Mode } from '../config.js';
import type { QueueCounts } from '../queue/job-queue.js';
import { rejectAfter } from '../time-limits.js';

export type ServiceState = 'connected' | 'disconnected' | 'not_configured' | `error: ${string}`;

export interface HealthDeps {
  mode: Mode;
  version: string;
  ytdlpVersion: string | null;
  ffmpegVersion: string | null;
  socketio: boolean;
  downloadDir: string;
  /** `not_configured` in embedded mode. */
  redis(): Promise<ServiceState>;
  /** The embedded store (SQLite) or Redis; a failure degrades health. */
  store(): Promise<boolean>;
  queue: { counts(): Promise<QueueCounts>; hasLiveWorker(): Promise<boolean> };
  gcs(): Promise<ServiceState>;
  /** Extra keys from other features (rate-limit fail-opens, …). */
  extras?(): Record<string, unknown>;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  message: string;
  mode: Mode;
  version: string;
  redis: ServiceState;
  celery: 'available' | 'unavailable';
  gcs: ServiceState;
  socketio: 'available' | 'not_configured';
  ytdlp: string;
  ffmpeg: string;
  queue: QueueCounts | null;
  disk_free_bytes: number | null;
  [key: string]: unknown;
}

/** Health must answer quickly even when a dependency hangs. */
const CHECK_TIMEOUT_MS = 1500;

function withTimeout<T>(promise: Promise<T>, fallback: T): Promise<T> {
  return rejectAfter(promise, CHECK_TIMEOUT_MS, () => new Error('health check timed out')).catch(() => fallback);
}

export function createHealthService(deps: HealthDeps) {
  return {
    async report(): Promise<HealthReport> {
      const [redis, storeOk, counts, worker, gcs, disk] = await Promise.all([
        withTimeout(deps.redis(), 'disconnected' as ServiceState),
        withTimeout(deps.store(), false),
        withTimeout(deps.queue.counts().then((c): QueueCounts | null => c), null),
        withTimeout(deps.queue.hasLiveWorker(), false),
        withTimeout(deps.gcs(), 'disconnected' as ServiceState),
        withTimeout(
          statfs(deps.downloadDir).then((s): number | null => s.bavail * s.bsize),
          null,
        ),
      ]);
      const problems: string[] = [];
      if (!storeOk) problems.push(deps.mode === 'embedded' ? 'the database is unreachable' : 'Redis is unreachable');
      if (counts === null) problems.push('the job queue is unreachable');
      if (!worker) problems.push('no worker is alive');
      if (deps.ytdlpVersion === null) problems.push('yt-dlp is missing');
      return {
        status: problems.length === 0 ? 'ok' : 'degraded',
        message: problems.length === 0 ? 'All systems operational' : `Degraded: ${problems.join('; ')}`,
        mode: deps.mode,
        version: deps.version,
        redis,
        celery: worker ? 'available' : 'unavailable',
        gcs,
        socketio: deps.socketio ? 'available' : 'not_configured',
        ytdlp: deps.ytdlpVersion ?? 'missing',
        ffmpeg: deps.ffmpegVersion ?? 'missing',
        queue: counts,
        disk_free_bytes: disk,
        ...deps.extras?.(),
      };
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;
