import type { Database } from 'better-sqlite3';
import type { DownloadType, Job, JobStatus, Phase } from '../downloads/job.js';
import { AppError, type ErrorCategory } from '../errors.js';
import type { JobPatch, JobStore, UpdateOptions } from './job-store.js';

interface JobRow {
  id: string;
  url: string;
  format_id: string;
  download_type: string;
  status: string;
  percentage: number;
  phase: string;
  speed: string | null;
  eta: number | null;
  token: string | null;
  expire_at: number | null;
  error_category: string | null;
  client_key: string | null;
  created_at: number;
  updated_at: number;
}

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    url: row.url,
    formatId: row.format_id,
    downloadType: row.download_type as DownloadType,
    status: row.status as JobStatus,
    progress: {
      percentage: row.percentage,
      phase: row.phase as Phase,
      speed: row.speed,
      eta: row.eta,
    },
    token: row.token,
    expireAt: row.expire_at,
    errorCategory: row.error_category as ErrorCategory | null,
    clientKey: row.client_key,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The column is a STRICT INTEGER and the SPEC's percentage an integer 0–100. */
function toPercentage(value: number): number {
  return Math.min(100, Math.max(0, Math.round(value)));
}

const flag = (present: boolean) => (present ? 1 : 0);

function storeError(action: string, err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('system_error', { detail: `job store: ${action} failed`, cause: err });
}

export interface SqliteJobStoreOptions {
  /** How long a record lives after its last update (JOB_TTL_SECONDS); older ones read as gone. */
  jobTtlMs: number;
  clock?: () => number;
}

/**
 * JobStore on the embedded SQLite database. Records past their TTL read as missing at once, even
 * before cleanup deletes them, which is what the Redis store's key expiry does too.
 */
export function createSqliteJobStore(db: Database, options: SqliteJobStoreOptions): JobStore {
  const clock = options.clock ?? Date.now;
  const staleBefore = () => clock() - options.jobTtlMs;

  const selectOne = db.prepare<[string, number], JobRow>(
    'SELECT * FROM jobs WHERE id = ? AND updated_at > ?',
  );
  const selectMany = db.prepare<[string, number], JobRow>(
    'SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each(?)) AND updated_at > ?',
  );
  const deleteStale = db.prepare<[string, number]>('DELETE FROM jobs WHERE id = ? AND updated_at <= ?');
  const insert = db.prepare(`
    INSERT INTO jobs (id, url, format_id, download_type, status, percentage, phase, speed, eta,
                      token, expire_at, error_category, client_key, created_at, updated_at)
    VALUES (@id, @url, @formatId, @downloadType, @status, @percentage, @phase, @speed, @eta,
            @token, @expireAt, @errorCategory, @clientKey, @createdAt, @updatedAt)
  `);
  // One statement, so the compare-and-set and max(percentage) are atomic. The set* flags tell
  // "leave as is" apart from "set to null" for the nullable columns.
  const update = db.prepare(`
    UPDATE jobs SET
      status         = coalesce(@status, status),
      percentage     = max(percentage, coalesce(@percentage, percentage)),
      phase          = coalesce(@phase, phase),
      speed          = CASE WHEN @setSpeed THEN @speed ELSE speed END,
      eta            = CASE WHEN @setEta THEN @eta ELSE eta END,
      token          = CASE WHEN @setToken THEN @token ELSE token END,
      expire_at      = CASE WHEN @setExpireAt THEN @expireAt ELSE expire_at END,
      error_category = CASE WHEN @setErrorCategory THEN @errorCategory ELSE error_category END,
      updated_at     = @now
    WHERE id = @id AND updated_at > @staleBefore
      AND (@anyStatus OR status IN (SELECT value FROM json_each(@statuses)))
    RETURNING *
  `);
  const remove = db.prepare<[string], { updated_at: number }>(
    'DELETE FROM jobs WHERE id = ? RETURNING updated_at',
  );
  const selectExpired = db.prepare<[number, number], { id: string }>(
    'SELECT id FROM jobs WHERE updated_at < ? ORDER BY updated_at LIMIT ?',
  );
  const countActive = db.prepare<[string, number], { n: number }>(`
    SELECT count(*) AS n FROM jobs
    WHERE client_key = ? AND status IN ('pending', 'processing') AND updated_at > ?
  `);

  // A record past its TTL may still sit in the table until cleanup; its id is free again.
  const createTx = db.transaction((job: Job, now: number) => {
    deleteStale.run(job.id, now - options.jobTtlMs);
    insert.run({
      id: job.id,
      url: job.url,
      formatId: job.formatId,
      downloadType: job.downloadType,
      status: job.status,
      percentage: toPercentage(job.progress.percentage),
      phase: job.progress.phase,
      speed: job.progress.speed,
      eta: job.progress.eta,
      token: job.token,
      expireAt: job.expireAt,
      errorCategory: job.errorCategory,
      clientKey: job.clientKey,
      createdAt: job.createdAt,
      updatedAt: now,
    });
  });

  return {
    async get(id: string) {
      const row = selectOne.get(id, staleBefore());
      return row ? toJob(row) : null;
    },

    async getMany(ids: string[]) {
      if (ids.length === 0) return [];
      const rows = selectMany.all(JSON.stringify(ids), staleBefore());
      const byId = new Map(rows.map((row) => [row.id, toJob(row)]));
      // Each caller gets its own object even when an id is asked twice.
      return ids.map((id) => {
        const job = byId.get(id);
        return job ? structuredClone(job) : null;
      });
    },

    async create(job: Job) {
      try {
        createTx(job, clock());
      } catch (err) {
        throw storeError(`create ${job.id}`, err);
      }
    },

    async update(id: string, patch: JobPatch, updateOptions: UpdateOptions = {}) {
      const progress = patch.progress ?? {};
      const now = clock();
      const row = update.get({
        id,
        now,
        staleBefore: now - options.jobTtlMs,
        anyStatus: flag(updateOptions.ifStatus === undefined),
        statuses: JSON.stringify(updateOptions.ifStatus ?? []),
        status: patch.status ?? null,
        percentage: progress.percentage === undefined ? null : toPercentage(progress.percentage),
        phase: progress.phase ?? null,
        setSpeed: flag(progress.speed !== undefined),
        speed: progress.speed ?? null,
        setEta: flag(progress.eta !== undefined),
        eta: progress.eta ?? null,
        setToken: flag(patch.token !== undefined),
        token: patch.token ?? null,
        setExpireAt: flag(patch.expireAt !== undefined),
        expireAt: patch.expireAt ?? null,
        setErrorCategory: flag(patch.errorCategory !== undefined),
        errorCategory: patch.errorCategory ?? null,
      }) as JobRow | undefined;
      return row ? toJob(row) : null;
    },

    async delete(id: string) {
      const row = remove.get(id);
      // A record past its TTL was already gone as far as callers can tell.
      return row !== undefined && row.updated_at > staleBefore();
    },

    async expired(olderThan: number, limit: number) {
      return selectExpired.all(olderThan, limit).map((row) => row.id);
    },

    async countActiveForClient(clientKey: string) {
      return countActive.get(clientKey, staleBefore())?.n ?? 0;
    },

    // The connection belongs to whoever opened it (openDatabase), shared with the other stores.
    async close() {},
  };
}
