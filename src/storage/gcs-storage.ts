/**
 * ObjectStorage on Google Cloud Storage (SPEC §8), so that workers on different hosts share nothing
 * but Redis and the bucket. Only these JSON API calls are made, and the test emulator implements
 * exactly them: multipart and resumable (chunked) upload, object metadata, media download with
 * Range, delete, list by prefix, and bucket metadata for health. Signed URLs are signed locally with
 * the service-account key (no network) when a key file is configured.
 */
import { createReadStream } from 'node:fs';
import { stat as statFile, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Storage, type StorageOptions } from '@google-cloud/storage';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { attachmentDisposition } from '../files/content-disposition.js';
import type { ByteRange, ObjectMeta, ObjectStorage, PutResult } from './object-storage.js';
import { signedUrlExpiry } from './signed-url.js';
import { rejectAfter } from '../time-limits.js';

export interface GcsStorageDeps {
  bucketName: string;
  /** A service-account key file; null or absent means Application Default Credentials. */
  credentialsFile?: string | null;
  /** Another JSON API endpoint (an emulator); requests to it go unauthenticated. */
  apiEndpoint?: string;
  logger: Logger;
  clock?: () => number;
  /** Upper bound of a signed URL's life (SPEC §9 `SIGNED_URL_TTL_SECONDS`). */
  signedUrlTtlSeconds?: number;
  /** Retries of a failed request; 0 fails at once (the fallback to local storage then is quick). */
  maxRetries?: number;
  /** Files above this size go through a resumable session instead of one multipart request. */
  resumableThresholdBytes?: number;
}

/**
 * Below this a single multipart request is cheaper; above it a resumable session survives a dropped
 * connection without resending what the server already has.
 */
const DEFAULT_RESUMABLE_THRESHOLD_BYTES = 8 * 1024 * 1024;
/**
 * Each resumable request carries one chunk, which the client keeps in memory until the server
 * acknowledges it, so this bounds the upload's memory. Must be a multiple of 256 KiB.
 */
const RESUMABLE_CHUNK_BYTES = 8 * 1024 * 1024;
/** Health must answer quickly even when the endpoint black-holes packets. */
const HEALTH_TIMEOUT_MS = 5_000;
const DEFAULT_SIGNED_URL_TTL_SECONDS = 300;
const DEFAULT_MAX_RETRIES = 3;

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

type StorageHealth = Awaited<ReturnType<ObjectStorage['health']>>;

/** Keys are `<jobId>/<name>` built by us; anything that could name another path is a bug. */
export function assertSafeKey(key: string): void {
  const parts = key.split('/');
  const bad =
    parts.length < 2 ||
    parts.some((p) => p === '' || p === '.' || p === '..') ||
    /[\\\u0000-\u001f\u007f]/.test(key);
  if (bad) throw new AppError('system_error', { detail: `refused storage key ${JSON.stringify(key)}` });
}

/** The `code`s of an error and of its causes: HTTP statuses (numbers) and socket errors (strings). */
function codesOf(err: unknown, depth = 0): (string | number)[] {
  if (typeof err !== 'object' || err === null || depth > 3) return [];
  const { code, cause } = err as { code?: unknown; cause?: unknown };
  const own = typeof code === 'string' || typeof code === 'number' ? [code] : [];
  return [...own, ...codesOf(cause, depth + 1)];
}

function httpStatus(err: unknown): number | undefined {
  return codesOf(err).find((c): c is number => typeof c === 'number');
}

function isNotFound(err: unknown): boolean {
  return httpStatus(err) === 404;
}

function isNetworkError(err: unknown): boolean {
  if (codesOf(err).some((c) => typeof c === 'string' && NETWORK_CODES.has(c))) return true;
  const message = err instanceof Error ? err.message : String(err);
  return /ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|socket hang up|network timeout/i.test(message);
}

function shortReason(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  return message.length > 120 ? `${message.slice(0, 117)}...` : message;
}

/** Maps a failed bucket probe to the SPEC §2 health value, with a reason a deployer can act on. */
export function gcsHealthFromError(err: unknown): StorageHealth {
  if (isNetworkError(err)) return 'disconnected';
  // Health is public: name the problem, not the key file's path.
  if (codesOf(err).some((c) => c === 'ENOENT' || c === 'EACCES')) return 'error: credentials file not readable';
  const code = httpStatus(err);
  if (code === 404) return 'error: bucket not found';
  if (code === 401 || code === 403) return `error: access denied (HTTP ${code})`;
  if (code !== undefined) return `error: HTTP ${code} ${shortReason(err)}`;
  return `error: ${shortReason(err) || 'unknown failure'}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return rejectAfter(promise, ms, () => Object.assign(new Error('health probe timed out'), { code: 'ETIMEDOUT' }));
}

export function createGcsStorage(deps: GcsStorageDeps) {
  const now = deps.clock ?? Date.now;
  const log = deps.logger.child({ storage: 'gcs', bucket: deps.bucketName });
  const ttlSeconds = deps.signedUrlTtlSeconds ?? DEFAULT_SIGNED_URL_TTL_SECONDS;
  const threshold = deps.resumableThresholdBytes ?? DEFAULT_RESUMABLE_THRESHOLD_BYTES;
  const maxRetries = deps.maxRetries ?? DEFAULT_MAX_RETRIES;

  const baseOptions: StorageOptions = {
    ...(deps.apiEndpoint ? { apiEndpoint: deps.apiEndpoint } : {}),
    ...(deps.credentialsFile ? { keyFilename: deps.credentialsFile } : {}),
  };
  // The library reads `maxRetries: 0` as "use the default", so no retries means autoRetry off.
  const client = new Storage({
    ...baseOptions,
    retryOptions: maxRetries > 0 ? { autoRetry: true, maxRetries } : { autoRetry: false },
  });
  // Health gets its own client: a probe must not sit through the upload path's retry back-off.
  const probeClient = new Storage({ ...baseOptions, retryOptions: { autoRetry: false }, timeout: HEALTH_TIMEOUT_MS });
  const bucket = client.bucket(deps.bucketName);

  function wrap(action: string, key: string, err: unknown): AppError {
    if (err instanceof AppError) return err;
    return new AppError('system_error', { detail: `GCS ${action} of ${key} failed: ${shortReason(err)}`, cause: err });
  }

  const storage = {
    kind: 'gcs' as const,

    async put(key: string, filePath: string, meta: ObjectMeta): Promise<PutResult> {
      assertSafeKey(key);
      const { size } = await statFile(filePath);
      const resumable = size > threshold;
      try {
        await pipeline(
          createReadStream(filePath),
          bucket.file(key).createWriteStream({
            resumable,
            ...(resumable ? { chunkSize: RESUMABLE_CHUNK_BYTES } : {}),
            contentType: meta.contentType,
            metadata: { contentDisposition: attachmentDisposition(meta.downloadName) },
            // MD5 is hashed natively; the library's CRC32C falls back to plain JavaScript.
            validation: 'md5',
          }),
        );
      } catch (err) {
        throw wrap('upload', key, err);
      }
      await unlink(filePath);
      log.debug({ key, size, resumable }, 'object stored');
      return { key, size, storage: 'gcs' };
    },

    async stat(key: string) {
      assertSafeKey(key);
      try {
        const [metadata] = await bucket.file(key).getMetadata();
        const mtimeMs = Date.parse(String(metadata.updated ?? metadata.timeCreated ?? ''));
        return { size: Number(metadata.size), mtimeMs: Number.isNaN(mtimeMs) ? now() : mtimeMs };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw wrap('stat', key, err);
      }
    },

    async open(key: string, range?: ByteRange): Promise<Readable> {
      assertSafeKey(key);
      // The library refuses hash validation on a range: only whole reads are checked.
      return range
        ? bucket.file(key).createReadStream({ start: range.start, end: range.end })
        : bucket.file(key).createReadStream({ validation: 'md5' });
    },

    async signedUrl(key: string, expiresAt: number, meta: ObjectMeta): Promise<string | null> {
      assertSafeKey(key);
      const issuedAt = now();
      const expires = signedUrlExpiry(issuedAt, expiresAt, ttlSeconds);
      if (expires === null) throw new AppError('file_expired');
      try {
        const [url] = await bucket.file(key).getSignedUrl({
          version: 'v4',
          action: 'read',
          accessibleAt: Math.floor(issuedAt / 1000) * 1000,
          expires,
          // Repeated in the URL so the download stays an attachment whatever the object's metadata.
          responseDisposition: attachmentDisposition(meta.downloadName),
          responseType: meta.contentType,
        });
        return url;
      } catch (err) {
        throw wrap('signing', key, err);
      }
    },

    async delete(key: string): Promise<void> {
      assertSafeKey(key);
      try {
        await bucket.file(key).delete({ ignoreNotFound: true });
      } catch (err) {
        if (!isNotFound(err)) throw wrap('delete', key, err);
      }
    },

    async deleteJob(jobId: string): Promise<void> {
      // The trailing separator keeps job `ab` from matching job `abc`.
      const prefix = `${jobId}/`;
      if (jobId.includes('/')) throw new AppError('system_error', { detail: `refused job id ${JSON.stringify(jobId)}` });
      assertSafeKey(`${prefix}x`);
      try {
        const [files] = await bucket.getFiles({ prefix, autoPaginate: true });
        for (const file of files) await storage.delete(file.name);
      } catch (err) {
        throw wrap('listing', prefix, err);
      }
    },

    async health(): Promise<StorageHealth> {
      try {
        await withTimeout(probeClient.bucket(deps.bucketName).getMetadata(), HEALTH_TIMEOUT_MS);
        return 'connected';
      } catch (err) {
        const health = gcsHealthFromError(err);
        // Debug only: health is polled, and the selector warns once when GCS becomes unusable.
        log.debug({ err, health }, 'GCS health probe failed');
        return health;
      }
    },
  } satisfies ObjectStorage;

  return storage;
}

export type GcsStorage = ReturnType<typeof createGcsStorage>;
