import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { createSqliteTokenStore } from '../../src/store/sqlite-token-store.js';
import { DATABASE_FILE, openDatabase } from '../../src/store/sqlite-database.js';
import {
  applyMigrations,
  MIGRATIONS,
  SCHEMA_VERSION,
  schemaVersion,
} from '../../src/store/migrations.js';

const HOUR_MS = 3_600_000;

function objectNames(db: BetterSqlite3.Database, type: 'table' | 'index'): string[] {
  return (
    db.prepare('SELECT name FROM sqlite_master WHERE type = ? ORDER BY name').all(type) as {
      name: string;
    }[]
  ).map((r) => r.name);
}

describe('embedded database schema', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ultra-dl-migrations-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('upgrades a version-1 database on open and keeps its data', async () => {
    const now = Date.now();
    const old = new BetterSqlite3(path.join(dir, DATABASE_FILE));
    expect(applyMigrations(old, MIGRATIONS.slice(0, 1))).toBe(1);
    expect(objectNames(old, 'table')).not.toContain('queue');
    old
      .prepare(
        `INSERT INTO jobs (id, url, format_id, download_type, status, percentage, phase, speed, eta,
                           token, expire_at, error_category, client_key, created_at, updated_at)
         VALUES ('job-1', 'https://youtu.be/abcdefghijk', '22', 'video-audio', 'completed', 100,
                 'completed', NULL, NULL, 'tok-1', ?, NULL, 'client-1', ?, ?)`,
      )
      .run(now + 600_000, now, now);
    old
      .prepare(
        `INSERT INTO tokens (token, job_id, file_key, file_name, file_size, content_type, storage,
                             created_at, expires_at)
         VALUES ('tok-1', 'job-1', 'job-1/v.mp4', 'v.mp4', 10, 'video/mp4', 'local', ?, ?)`,
      )
      .run(now, now + 600_000);
    old.close();

    const db = openDatabase(dir);
    try {
      expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
      expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(2);
      expect(objectNames(db, 'table')).toContain('queue');
      expect(objectNames(db, 'index')).toEqual(
        expect.arrayContaining(['jobs_by_updated_at', 'tokens_by_job', 'queue_by_state']),
      );
      expect(objectNames(db, 'table')).toEqual(
        expect.arrayContaining(['jobs', 'tokens', 'queue', 'rate_limit_counters']),
      );
      const jobs = createSqliteJobStore(db, { jobTtlMs: HOUR_MS });
      expect(await jobs.get('job-1')).toMatchObject({
        id: 'job-1',
        status: 'completed',
        token: 'tok-1',
        progress: { percentage: 100, phase: 'completed', speed: null, eta: null },
      });
      const tokens = createSqliteTokenStore(db);
      expect(await tokens.resolve('tok-1', now)).toMatchObject({
        state: 'valid',
        record: { jobId: 'job-1', file: { key: 'job-1/v.mp4', storage: 'local' } },
      });
    } finally {
      db.close();
    }
  });

  it('creates the data directory and the file with WAL, a busy timeout and foreign keys', () => {
    const nested = path.join(dir, 'a', 'b');
    const db = openDatabase(nested);
    try {
      expect(existsSync(path.join(nested, DATABASE_FILE))).toBe(true);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('busy_timeout', { simple: true })).toBeGreaterThan(0);
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });

  it('opens a current database again without touching its data', async () => {
    const first = openDatabase(dir);
    await createSqliteTokenStore(first).issue({
      token: 't',
      jobId: 'j',
      file: { key: 'j/f', name: 'f', size: 1, contentType: 'video/mp4', storage: 'gcs' },
      createdAt: 1,
      expiresAt: Date.now() + 60_000,
    });
    first.close();
    const second = openDatabase(dir);
    try {
      expect((await createSqliteTokenStore(second).resolve('t', Date.now())).state).toBe('valid');
    } finally {
      second.close();
    }
  });

  it('refuses a database written by a newer version, naming the versions', () => {
    const db = openDatabase(dir);
    db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    db.close();
    expect(() => openDatabase(dir)).toThrow(/newer than this ultra-dl/);
  });

  it('rolls a failing migration back entirely, version included', () => {
    const db = new BetterSqlite3(path.join(dir, DATABASE_FILE));
    try {
      applyMigrations(db);
      const broken = [
        ...MIGRATIONS,
        { version: SCHEMA_VERSION + 1, name: 'broken', sql: 'CREATE TABLE half (a); SELECT nope();' },
      ];
      expect(() => applyMigrations(db, broken)).toThrow();
      expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
      expect(objectNames(db, 'table')).not.toContain('half');
    } finally {
      db.close();
    }
  });

  it('rejects a migration list with a gap in its versions', () => {
    const db = new BetterSqlite3(':memory:');
    try {
      const gapped = [MIGRATIONS[0]!, { ...MIGRATIONS[1]!, version: 3 }];
      expect(() => applyMigrations(db, gapped)).toThrow(/version 2/);
      expect(schemaVersion(db)).toBe(0);
    } finally {
      db.close();
    }
  });
});
