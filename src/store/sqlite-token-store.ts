import type { Database } from 'better-sqlite3';
import { AppError } from '../errors.js';
import {
  TOMBSTONE_MS,
  type StoredFile,
  type TokenLookup,
  type TokenRecord,
  type TokenStore,
} from './token-store.js';

interface TokenRow {
  token: string;
  job_id: string;
  file_key: string;
  file_name: string;
  file_size: number;
  content_type: string;
  storage: string;
  created_at: number;
  expires_at: number;
  tombstone: number;
}

function toRecord(row: TokenRow): TokenRecord {
  return {
    token: row.token,
    jobId: row.job_id,
    file: {
      key: row.file_key,
      name: row.file_name,
      size: row.file_size,
      contentType: row.content_type,
      storage: row.storage as StoredFile['storage'],
    },
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

/**
 * TokenStore on the embedded SQLite database. An expired token keeps its row, flagged as a
 * tombstone, so that it answers 410 until `expire` purges it `TOMBSTONE_MS` after its expiry.
 */
export function createSqliteTokenStore(db: Database): TokenStore {
  const insert = db.prepare(`
    INSERT INTO tokens (token, job_id, file_key, file_name, file_size, content_type, storage,
                        created_at, expires_at)
    VALUES (@token, @jobId, @fileKey, @fileName, @fileSize, @contentType, @storage,
            @createdAt, @expiresAt)
  `);
  const selectOne = db.prepare<[string], TokenRow>('SELECT * FROM tokens WHERE token = ?');
  const removeForJob = db.prepare<[string], TokenRow>('DELETE FROM tokens WHERE job_id = ? RETURNING *');
  const markExpired = db.prepare<[number, number], TokenRow>(`
    UPDATE tokens SET tombstone = 1
    WHERE token IN (
      SELECT token FROM tokens WHERE tombstone = 0 AND expires_at <= ? ORDER BY expires_at LIMIT ?
    )
    RETURNING *
  `);
  const purgeTombstones = db.prepare<[number]>(
    'DELETE FROM tokens WHERE tombstone = 1 AND expires_at <= ?',
  );
  const expireTx = db.transaction((now: number, limit: number) => {
    const rows = markExpired.all(now, limit);
    purgeTombstones.run(now - TOMBSTONE_MS);
    return rows.map(toRecord);
  });

  return {
    async issue(record: TokenRecord) {
      try {
        insert.run({
          token: record.token,
          jobId: record.jobId,
          fileKey: record.file.key,
          fileName: record.file.name,
          fileSize: record.file.size,
          contentType: record.file.contentType,
          storage: record.file.storage,
          createdAt: record.createdAt,
          expiresAt: record.expiresAt,
        });
      } catch (err) {
        throw new AppError('system_error', { detail: 'token store: issue failed', cause: err });
      }
    },

    async resolve(token: string, now: number): Promise<TokenLookup> {
      const row = selectOne.get(token);
      if (!row) return { state: 'unknown' };
      // Past its tombstone period the row is due for purging; answer as if it already was.
      if (now - row.expires_at >= TOMBSTONE_MS) return { state: 'unknown' };
      if (row.tombstone === 1 || now >= row.expires_at) return { state: 'expired' };
      return { state: 'valid', record: toRecord(row) };
    },

    async revokeForJob(jobId: string) {
      return removeForJob.all(jobId).map(toRecord);
    },

    async expire(now: number, limit: number) {
      return expireTx(now, limit);
    },

    // The connection belongs to whoever opened it (openDatabase).
    async close() {},
  };
}
