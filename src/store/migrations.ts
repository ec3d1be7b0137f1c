/**
 * The embedded database's schema, as an ordered list of migrations. `PRAGMA user_version` holds
 * the version of the last one applied; opening a database applies the missing ones in one
 * transaction, so a file written by an older ultra-dl is upgraded on start.
 *
 * Adding a migration: append `{ version: <last + 1>, name, sql }` to `MIGRATIONS` and never edit
 * or reorder a shipped one (databases in the field already ran it). Versions are dense: the next
 * change takes 4. Our own tables are STRICT so that a wrong type fails loudly instead of being
 * coerced; a table a library writes to keeps the library's own definition.
 */
import type { Database } from 'better-sqlite3';
import { AppError } from '../errors.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs and tokens',
    sql: `
      CREATE TABLE jobs (
        id             TEXT PRIMARY KEY,
        url            TEXT NOT NULL,
        format_id      TEXT NOT NULL,
        download_type  TEXT NOT NULL,
        status         TEXT NOT NULL,
        percentage     INTEGER NOT NULL,
        phase          TEXT NOT NULL,
        speed          TEXT,
        eta            INTEGER,
        token          TEXT,
        expire_at      INTEGER,
        error_category TEXT,
        client_key     TEXT,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL
      ) STRICT;

      -- No foreign key to jobs: a token's tombstone outlives its job record (SPEC §2: 410 for an
      -- hour after expiry, while job records live JOB_TTL_SECONDS).
      CREATE TABLE tokens (
        token        TEXT PRIMARY KEY,
        job_id       TEXT NOT NULL,
        file_key     TEXT NOT NULL,
        file_name    TEXT NOT NULL,
        file_size    INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        storage      TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        tombstone    INTEGER NOT NULL DEFAULT 0
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: 'durable queue and lookup indexes',
    sql: `
      CREATE TABLE queue (
        job_id      TEXT PRIMARY KEY,
        payload     TEXT NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('waiting', 'active')),
        attempts    INTEGER NOT NULL DEFAULT 0,
        enqueued_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX queue_by_state ON queue (state, enqueued_at);

      CREATE INDEX jobs_by_updated_at ON jobs (updated_at);
      CREATE INDEX jobs_active_by_client ON jobs (client_key)
        WHERE status IN ('pending', 'processing');
      CREATE INDEX tokens_by_job ON tokens (job_id);
      CREATE INDEX tokens_by_expiry ON tokens (tombstone, expires_at);
    `,
  },
  {
    version: 3,
    name: 'rate-limit counters',
    // The layout rate-limiter-flexible's RateLimiterSQLite reads and writes (src/ratelimit/);
    // `expire` is unix ms, and a key names one client in one calendar window.
    sql: `
      CREATE TABLE rate_limit_counters (
        key    TEXT PRIMARY KEY,
        points INTEGER NOT NULL DEFAULT 0,
        expire INTEGER
      ) STRICT;
      CREATE INDEX rate_limit_counters_by_expire ON rate_limit_counters (expire);
    `,
  },
];

/** The version a database has once every migration ran. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` up to the last of `migrations` and returns the version reached. The check and the
 * upgrade share one IMMEDIATE transaction, so two processes opening the same file at once cannot
 * both run a migration; a failed migration leaves the database as it was.
 */
export function applyMigrations(db: Database, migrations: readonly Migration[] = MIGRATIONS): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name} must have version ${i + 1}`);
  });
  const upgrade = db.transaction(() => {
    const current = schemaVersion(db);
    if (current > migrations.length) {
      throw new AppError('system_error', {
        detail:
          `database schema version ${current} is newer than this ultra-dl ` +
          `(${migrations.length}); upgrade ultra-dl or use another DATA_DIR`,
      });
    }
    for (const migration of migrations.slice(current)) {
      db.exec(migration.sql);
      // user_version lives in the file header and is rolled back with the transaction.
      db.pragma(`user_version = ${migration.version}`);
    }
    return schemaVersion(db);
  });
  return upgrade.immediate();
}
