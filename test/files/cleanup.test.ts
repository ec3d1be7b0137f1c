import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newJob, type JobStatus } from '../../src/downloads/job.js';
import {
  ORPHAN_AGE_MS,
  TOKEN_BATCH_SIZE,
  createCleanup,
  startCleanupTimer,
  type CleanupDeps,
  type CleanupReport,
} from '../../src/files/cleanup.js';
import { newFileToken } from '../../src/files/token.js';
import { createLocalStorage, workDirFor, workRootFor } from '../../src/storage/local-storage.js';
import type { ObjectStorage } from '../../src/storage/object-storage.js';
import type { JobStore } from '../../src/store/job-store.js';
import { openDatabase, type Database } from '../../src/store/sqlite-database.js';
import { createSqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { createSqliteTokenStore } from '../../src/store/sqlite-token-store.js';
import type { TokenRecord, TokenStore } from '../../src/store/token-store.js';
import { createRemoteStorageFake } from './remote-storage-fake.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const FILE_TTL_MS = 10 * MINUTE_MS;
const silent = pino({ level: 'silent' });

let dirs: string[] = [];
let db: Database;
let now: number;
let jobs: JobStore;
let tokens: TokenStore;
let downloadDir: string;
let local: ObjectStorage;
let remote: ObjectStorage;
let gcsConfigured: boolean;

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

const clock = (): number => now;
const storageFor = (kind: 'local' | 'gcs'): ObjectStorage | null =>
  kind === 'local' ? local : gcsConfigured ? remote : null;

function makeCleanup(overrides: Partial<CleanupDeps> = {}) {
  return createCleanup({
    jobs,
    tokens,
    storageFor,
    downloadDir,
    jobTtlMs: HOUR_MS,
    logger: silent,
    clock,
    ...overrides,
  });
}

beforeEach(async () => {
  now = Date.now();
  gcsConfigured = true;
  db = openDatabase(await tempDir('cleanup-db-'));
  jobs = createSqliteJobStore(db, { jobTtlMs: HOUR_MS, clock });
  tokens = createSqliteTokenStore(db);
  downloadDir = await tempDir('cleanup-dl-');
  local = createLocalStorage({ downloadDir });
  remote = createRemoteStorageFake(await tempDir('cleanup-remote-')).storage;
});

afterEach(async () => {
  await jobs.close();
  await tokens.close();
  db.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  dirs = [];
});

/** A job in `status`, and when completed its stored file and token, as the worker leaves them. */
async function addJob(
  status: JobStatus,
  options: { storage?: 'local' | 'gcs' } = {},
): Promise<{ jobId: string; record: TokenRecord | null }> {
  const jobId = randomUUID();
  await jobs.create({ ...newJob({ id: jobId, url: 'https://www.youtube.com/watch?v=x', formatId: '18', downloadType: 'video-audio', clientKey: null, now }), status });
  if (status !== 'completed') return { jobId, record: null };
  const source = path.join(await tempDir('cleanup-work-'), 'out.mp4');
  await writeFile(source, 'video bytes');
  const storage = options.storage === 'gcs' ? remote : local;
  const put = await storage.put(`${jobId}/clip.mp4`, source, { contentType: 'video/mp4', downloadName: 'clip.mp4' });
  const record: TokenRecord = {
    token: newFileToken(),
    jobId,
    file: { key: put.key, name: 'clip.mp4', size: put.size, contentType: 'video/mp4', storage: put.storage },
    createdAt: now,
    expiresAt: now + FILE_TTL_MS,
  };
  await tokens.issue(record);
  await jobs.update(jobId, { token: record.token, expireAt: record.expiresAt });
  return { jobId, record };
}

/** Sets the mtime of `target` and of its direct entries to `ageMs` ago (by the test clock). */
async function age(target: string, ageMs: number, entries: string[] = []): Promise<void> {
  const when = new Date(now - ageMs);
  for (const entry of entries) await utimes(path.join(target, entry), when, when);
  await utimes(target, when, when);
}

const emptyReport: CleanupReport = {
  expiredTokens: 0,
  filesDeleted: 0,
  expiredJobs: 0,
  orphanDirsRemoved: 0,
  workDirsRemoved: 0,
  failures: 0,
};

describe('cleanup run: expired tokens', () => {
  it('deletes expired files, local and remote, and keeps tombstones and job records', async () => {
    const a = await addJob('completed');
    const b = await addJob('completed', { storage: 'gcs' });
    now += FILE_TTL_MS + 1000;
    const live = await addJob('completed');

    const report = await makeCleanup().run();

    expect(report).toEqual({ ...emptyReport, expiredTokens: 2, filesDeleted: 2 });
    expect(await local.stat(a.record!.file.key)).toBeNull();
    expect(await remote.stat(b.record!.file.key)).toBeNull();
    expect(await tokens.resolve(a.record!.token, now)).toEqual({ state: 'expired' });
    expect(await tokens.resolve(b.record!.token, now)).toEqual({ state: 'expired' });
    expect(await jobs.get(a.jobId)).not.toBeNull();
    expect(await local.stat(live.record!.file.key)).not.toBeNull();
    expect((await tokens.resolve(live.record!.token, now)).state).toBe('valid');
  });

  it('handles more expired tokens than one batch in a single run', async () => {
    const count = TOKEN_BATCH_SIZE + 37;
    for (let i = 0; i < count; i++) {
      const jobId = randomUUID();
      await tokens.issue({
        token: newFileToken(),
        jobId,
        file: { key: `${jobId}/clip.mp4`, name: 'clip.mp4', size: 1, contentType: 'video/mp4', storage: 'local' },
        createdAt: now - FILE_TTL_MS,
        expiresAt: now - 1000,
      });
    }

    const report = await makeCleanup().run();

    expect(report.expiredTokens).toBe(count);
    expect(report.failures).toBe(0);
  });

  it('counts a file it cannot delete and goes on with the others', async () => {
    const broken = await addJob('completed');
    const fine = await addJob('completed');
    const unreachable = await addJob('completed', { storage: 'gcs' });
    now += FILE_TTL_MS + 1000;
    gcsConfigured = false;
    const failingLocal: ObjectStorage = {
      ...local,
      delete: async (key) => {
        if (key === broken.record!.file.key) throw new Error('disk says no');
        return local.delete(key);
      },
    };

    const report = await makeCleanup({ storageFor: (kind) => (kind === 'local' ? failingLocal : null) }).run();

    expect(report).toMatchObject({ expiredTokens: 3, filesDeleted: 1, failures: 2 });
    expect(await local.stat(fine.record!.file.key)).toBeNull();
    expect(await local.stat(broken.record!.file.key)).not.toBeNull();
    expect(await remote.stat(unreachable.record!.file.key)).not.toBeNull();
  });
});

describe('cleanup run: expired jobs', () => {
  it('deletes old job records with their files, and leaves recent ones', async () => {
    const old = await addJob('completed');
    const oldRemote = await addJob('completed', { storage: 'gcs' });
    const oldFailed = await addJob('failed');
    now += HOUR_MS + 1000;
    const recent = await addJob('completed');

    const report = await makeCleanup().run();

    expect(report.expiredJobs).toBe(3);
    for (const id of [old.jobId, oldRemote.jobId, oldFailed.jobId]) {
      expect(await jobs.expired(now, 100)).not.toContain(id);
    }
    // An expired job's link keeps its tombstone: it answers 410 for TOMBSTONE_MS, longer than the
    // job record lives (SPEC §2). Only a DELETE revokes it to 404.
    expect(await tokens.resolve(old.record!.token, now)).toEqual({ state: 'expired' });
    expect(await tokens.resolve(oldRemote.record!.token, now)).toEqual({ state: 'expired' });
    expect(existsSync(path.join(downloadDir, old.jobId))).toBe(false);
    expect(await remote.stat(oldRemote.record!.file.key)).toBeNull();
    expect(await jobs.get(recent.jobId)).not.toBeNull();
    expect(await local.stat(recent.record!.file.key)).not.toBeNull();
  });

  it('keeps a job record whose files could not be deleted, for the next run', async () => {
    const job = await addJob('completed', { storage: 'gcs' });
    now += HOUR_MS + 1000;
    const failingRemote: ObjectStorage = {
      ...remote,
      deleteJob: async () => {
        throw new Error('bucket unreachable');
      },
    };

    const first = await makeCleanup({ storageFor: (kind) => (kind === 'local' ? local : failingRemote) }).run();
    expect(first).toMatchObject({ expiredJobs: 0, failures: 1 });
    expect(await jobs.expired(now - HOUR_MS, 100)).toContain(job.jobId);

    const second = await makeCleanup().run();
    expect(second.expiredJobs).toBe(1);
    expect(await remote.stat(job.record!.file.key)).toBeNull();
  });
});

describe('cleanup run: orphaned directories', () => {
  it('removes an old job directory without a job and keeps young or owned ones', async () => {
    const orphan = path.join(downloadDir, randomUUID());
    const young = path.join(downloadDir, randomUUID());
    for (const dir of [orphan, young]) {
      await mkdir(dir);
      await writeFile(path.join(dir, 'clip.mp4'), 'x');
    }
    await age(orphan, ORPHAN_AGE_MS + MINUTE_MS, ['clip.mp4']);
    const owned = await addJob('completed');
    await age(path.join(downloadDir, owned.jobId), 2 * ORPHAN_AGE_MS, ['clip.mp4']);
    // Not a job directory: other things an operator keeps there are left alone.
    const foreign = path.join(downloadDir, 'lost+found');
    await mkdir(foreign);
    await age(foreign, 2 * ORPHAN_AGE_MS);

    const report = await makeCleanup().run();

    expect(report.orphanDirsRemoved).toBe(1);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(young)).toBe(true);
    expect(await local.stat(owned.record!.file.key)).not.toBeNull();
    expect(existsSync(foreign)).toBe(true);
  });

  it('sweeps work directories of jobs no longer pending or processing', async () => {
    const processing = await addJob('processing');
    const failed = await addJob('failed');
    for (const { jobId } of [processing, failed]) {
      const dir = workDirFor(downloadDir, jobId);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'video.mp4.part'), 'partial');
      await age(dir, ORPHAN_AGE_MS + MINUTE_MS, ['video.mp4.part']);
    }

    const report = await makeCleanup().run();

    expect(report.workDirsRemoved).toBe(1);
    expect(report.orphanDirsRemoved).toBe(0);
    expect(existsSync(workDirFor(downloadDir, processing.jobId))).toBe(true);
    expect(existsSync(workDirFor(downloadDir, failed.jobId))).toBe(false);
  });
});

describe('sweepWorkDirs', () => {
  async function workDir(jobId: string, ageMs: number, fileAgeMs = ageMs): Promise<string> {
    const dir = workDirFor(downloadDir, jobId);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'video.f137.mp4.part'), 'partial');
    const when = new Date(now - fileAgeMs);
    await utimes(path.join(dir, 'video.f137.mp4.part'), when, when);
    await utimes(dir, new Date(now - ageMs), new Date(now - ageMs));
    return dir;
  }

  it('removes old work directories of inactive jobs only', async () => {
    const stale = await workDir('stale-job', ORPHAN_AGE_MS + MINUTE_MS);
    const active = await workDir('active-job', 3 * ORPHAN_AGE_MS);
    const young = await workDir('young-job', ORPHAN_AGE_MS - MINUTE_MS);
    // The directory is old but a partial file in it is still being written.
    const writing = await workDir('writing-job', 3 * ORPHAN_AGE_MS, 1000);

    const removed = await makeCleanup().sweepWorkDirs(new Set(['active-job']));

    expect(removed).toBe(1);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(active)).toBe(true);
    expect(existsSync(young)).toBe(true);
    expect(existsSync(writing)).toBe(true);
  });

  it('accepts a liveness check instead of a set', async () => {
    await workDir('a', 2 * ORPHAN_AGE_MS);
    await workDir('b', 2 * ORPHAN_AGE_MS);
    const asked: string[] = [];

    const removed = await makeCleanup().sweepWorkDirs(async (id) => {
      asked.push(id);
      return id === 'a';
    });

    expect(removed).toBe(1);
    expect(asked.sort()).toEqual(['a', 'b']);
    expect(existsSync(workDirFor(downloadDir, 'a'))).toBe(true);
  });

  it('uses the injected orphan age and removes stray old files', async () => {
    await workDir('c', 10 * MINUTE_MS);
    const stray = path.join(workRootFor(downloadDir), 'stray.tmp');
    await writeFile(stray, 'x');
    await utimes(stray, new Date(now - 10 * MINUTE_MS), new Date(now - 10 * MINUTE_MS));

    expect(await makeCleanup().sweepWorkDirs(new Set())).toBe(0);
    expect(await makeCleanup({ orphanAgeMs: 5 * MINUTE_MS }).sweepWorkDirs(new Set())).toBe(2);
    expect(existsSync(stray)).toBe(false);
  });

  it('finds nothing to do when no work directory exists yet', async () => {
    expect(await makeCleanup().sweepWorkDirs(new Set())).toBe(0);
  });
});

describe('startCleanupTimer', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  function captureLogger() {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    return { logger: pino({ level: 'debug' }, stream), lines };
  }

  it('runs on every interval but never two runs at once', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const slow = {
      async run() {
        running += 1;
        runs += 1;
        maxRunning = Math.max(maxRunning, running);
        await sleep(60);
        running -= 1;
        return emptyReport;
      },
    };

    const timer = startCleanupTimer(slow, 10, silent);
    await sleep(250);
    await timer.stop();

    expect(runs).toBeGreaterThanOrEqual(2);
    expect(maxRunning).toBe(1);
    expect(running).toBe(0);
    const after = runs;
    await sleep(50);
    expect(runs).toBe(after);
  });

  it('logs a failed run and keeps going', async () => {
    const { logger, lines } = captureLogger();
    let calls = 0;
    const failing = {
      async run(): Promise<CleanupReport> {
        calls += 1;
        throw new Error(`boom ${calls}`);
      },
    };

    const timer = startCleanupTimer(failing, 10, logger);
    await sleep(100);
    await timer.stop();

    expect(calls).toBeGreaterThanOrEqual(2);
    const errors = lines.filter((l) => l.msg === 'cleanup run failed');
    expect(errors.length).toBe(calls);
    expect((errors[0]!.err as { message: string }).message).toBe('boom 1');
  });
});
