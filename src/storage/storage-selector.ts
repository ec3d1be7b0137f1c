/**
 * Picks where a finished file goes and where a stored one is found (SPEC §8). With GCS configured a
 * file goes to the bucket; when the bucket is unusable, at start-up or at upload time, the job keeps
 * its file in local storage instead, and the token record says so, so that every process serves it
 * the same way. That fallback needs the api processes to read the worker's `DOWNLOAD_DIR`; without
 * a shared disk the job fails with `system_error`. Health reports why GCS is not used.
 */
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { StoredFile } from '../store/token-store.js';
import type { ObjectMeta, ObjectStorage, PutResult } from './object-storage.js';

export interface StorageSelectorDeps {
  local: ObjectStorage;
  /** Null when GCS is not configured. */
  gcs: ObjectStorage | null;
  /** The api processes can read this worker's `DOWNLOAD_DIR` (embedded mode, or a shared volume). */
  sharedDisk: boolean;
  logger: Logger;
  clock?: () => number;
}

export type GcsHealth = Awaited<ReturnType<ObjectStorage['health']>>;

/**
 * After a GCS failure, uploads skip the bucket for this long: each attempt at a dead bucket costs
 * the client's retries and back-off, which every finished job would otherwise pay again.
 */
export const GCS_RETRY_AFTER_MS = 60_000;

/**
 * The reason as health may show it: health is public and a job id is enough to delete its job, so
 * the key and the job id are masked; the full error goes to the log.
 */
function publicReason(err: unknown, key: string): string {
  const cause = err instanceof AppError && err.cause !== undefined ? err.cause : err;
  const message = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0] ?? '';
  const jobId = key.split('/')[0] ?? key;
  const masked = message.replaceAll(key, '<key>').replaceAll(encodeURIComponent(key), '<key>').replaceAll(jobId, '<job>');
  return masked.length > 120 ? `${masked.slice(0, 117)}...` : masked || 'unknown failure';
}

export function createStorageSelector(deps: StorageSelectorDeps) {
  const now = deps.clock ?? Date.now;
  const log = deps.logger.child({ component: 'storage-selector' });
  const { local, gcs } = deps;
  /**
   * The last reason GCS could not be used. An upload failure is cleared by the next successful
   * upload; a start-up failure also by a later successful probe.
   */
  let failure: { reason: string; at: number; during: 'start-up' | 'upload' } | null = null;

  function recordFailure(reason: string, during: 'start-up' | 'upload'): void {
    failure = { reason, at: now(), during };
  }

  function storageFor(kind: StoredFile['storage']): ObjectStorage | null {
    return kind === 'local' ? local : gcs;
  }

  async function fallBack(key: string, filePath: string, meta: ObjectMeta, reason: string, cause?: unknown) {
    if (!deps.sharedDisk) {
      log.error({ key, reason }, 'GCS unusable and no shared disk for a local copy: failing the job');
      throw new AppError('system_error', { detail: `GCS unusable (${reason}); no shared disk to fall back on`, cause });
    }
    log.warn({ key, reason }, 'GCS unusable: keeping the file in local storage');
    return local.put(key, filePath, meta);
  }

  return {
    /** True when finished files leave this host (the job shows the `uploading` phase). */
    uploads: gcs !== null,

    /** Probes the bucket once at start-up, so the first jobs do not wait on a dead bucket. */
    async start(): Promise<void> {
      if (!gcs) return;
      const health = await gcs.health();
      if (health === 'connected') {
        log.info('GCS bucket reachable');
        return;
      }
      recordFailure(`at start-up: ${health}`, 'start-up');
      log.warn({ health, fallback: deps.sharedDisk ? 'local' : 'none' }, 'GCS configured but unusable at start-up');
    },

    /** Stores a finished file; `PutResult.storage` says where it ended up. */
    async put(key: string, filePath: string, meta: ObjectMeta): Promise<PutResult> {
      if (!gcs) return local.put(key, filePath, meta);
      if (failure && now() - failure.at < GCS_RETRY_AFTER_MS) {
        return fallBack(key, filePath, meta, failure.reason);
      }
      try {
        const result = await gcs.put(key, filePath, meta);
        if (failure) log.info({ previous: failure.reason }, 'GCS usable again');
        failure = null;
        return result;
      } catch (err) {
        log.warn({ err, key }, 'GCS upload failed');
        const reason = `upload failed: ${publicReason(err, key)}`;
        recordFailure(reason, 'upload');
        return fallBack(key, filePath, meta, reason, err);
      }
    },

    /** The storage holding files of that kind, or null when it is not configured here. */
    storageFor,

    /** Deletes a job's files wherever they are; a job may have fallen back to local storage. */
    async deleteJob(jobId: string): Promise<void> {
      const results = await Promise.allSettled([local.deleteJob(jobId), ...(gcs ? [gcs.deleteJob(jobId)] : [])]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },

    /** SPEC §2 `gcs`: the bucket probe, or the reason uploads are currently falling back. */
    async gcsHealth(): Promise<GcsHealth> {
      if (!gcs) return 'not_configured';
      const health = await gcs.health();
      if (health !== 'connected') return health;
      if (failure?.during === 'start-up') failure = null;
      return failure ? `error: ${failure.reason}` : 'connected';
    },
  };
}

export type StorageSelector = ReturnType<typeof createStorageSelector>;
