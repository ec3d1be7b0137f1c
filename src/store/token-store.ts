/** Where a finished file is kept: enough to serve it through its token. */
export interface StoredFile {
  /** ObjectStorage key, `<jobId>/<name>`. */
  key: string;
  /** The download name shown to the user (may be non-ASCII). */
  name: string;
  size: number;
  contentType: string;
  /** Which storage holds it. */
  storage: 'local' | 'gcs';
}

export interface TokenRecord {
  token: string;
  jobId: string;
  file: StoredFile;
  createdAt: number;
  expiresAt: number;
}

export type TokenLookup =
  | { state: 'valid'; record: TokenRecord }
  | { state: 'expired' }
  | { state: 'unknown' };

/**
 * File tokens (SPEC §2). An expired token leaves a tombstone for at least `TOMBSTONE_MS`, so it
 * answers 410 rather than 404; a revoked one (job deleted) is forgotten and answers 404.
 */
export interface TokenStore {
  issue(record: TokenRecord): Promise<void>;
  resolve(token: string, now: number): Promise<TokenLookup>;
  /** Forgets every token of a job and returns their records (for deleting the files). */
  revokeForJob(jobId: string): Promise<TokenRecord[]>;
  /**
   * Turns tokens that expired before `now` into tombstones and returns their records, so cleanup
   * can delete the files; also drops tombstones older than `TOMBSTONE_MS`.
   */
  expire(now: number, limit: number): Promise<TokenRecord[]>;
  close(): Promise<void>;
}

/** How long an expired token still answers 410 (SPEC §2: at least an hour). */
export const TOMBSTONE_MS = 2 * 60 * 60 * 1000;
