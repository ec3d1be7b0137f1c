import type { Readable } from 'node:stream';

export interface ObjectMeta {
  contentType: string;
  /** The user-facing file name, for `Content-Disposition`. */
  downloadName: string;
}

export interface PutResult {
  key: string;
  size: number;
  storage: 'local' | 'gcs';
}

export interface ByteRange {
  /** Inclusive. */
  start: number;
  /** Inclusive. */
  end: number;
}

export interface ObjectStat {
  size: number;
  mtimeMs: number;
}

/**
 * Where finished files are kept (SPEC §8). Keys are `<jobId>/<name>`; no key comes from a request.
 */
export interface ObjectStorage {
  readonly kind: 'local' | 'gcs';
  /** Stores the file at `filePath` under `key` and removes the local source. Streams, never buffers. */
  put(key: string, filePath: string, meta: ObjectMeta): Promise<PutResult>;
  stat(key: string): Promise<ObjectStat | null>;
  /** A read stream of the object, or of one inclusive byte range of it. */
  open(key: string, range?: ByteRange): Promise<Readable>;
  /** A time-limited URL to fetch the object directly, or null when the storage has none (local). */
  signedUrl(key: string, expiresAt: number, meta: ObjectMeta): Promise<string | null>;
  /** Deletes the object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Deletes every object of a job. */
  deleteJob(jobId: string): Promise<void>;
  /** Health of the backing service. */
  health(): Promise<'connected' | 'disconnected' | 'not_configured' | `error: ${string}`>;
}
