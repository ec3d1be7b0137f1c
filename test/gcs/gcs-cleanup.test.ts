/**
 * Retention with GCS (SPEC §8): cleanup deletes expired objects from our own record of what was
 * uploaded (the token records), not only through a bucket lifecycle rule; an expired job takes
 * its objects with it. Real SQLite stores, the real cleanup, the GCS adapter on the emulator.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { newJob } from '../../src/downloads/job.js';
import { createCleanup } from '../../src/files/cleanup.js';
import { newFileToken } from '../../src/files/token.js';
import { createGcsStorage } from '../../src/storage/gcs-storage.js';
import { createLocalStorage } from '../../src/storage/local-storage.js';
import { createStorageSelector, type StorageSelector } from '../../src/storage/storage-selector.js';
import { openDatabase, type Database } from '../../src/store/sqlite-database.js';
import { createSqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { createSqliteTokenStore } from '../../src/store/sqlite-token-store.js';
import type { JobStore } from '../../src/store/job-store.js';
import type { TokenStore } from '../../src/store/token-store.js';
import { startGcsEmulator, type GcsEmulator } from './gcs-emulator.js';
import { createTestServiceAccount } from './service-account.js';

const BUCKET = 'ultra-dl-cleanup';
const FILE_TTL_MS = 10 * 60_000;
const JOB_TTL_MS = 3_600_000;
const logger = pino({ level: 'silent' });

let dir: string;
let downloadDir: string;
let emulator: GcsEmulator;
let db: Database;
let jobs: JobStore;
let tokens: TokenStore;
let storage: StorageSelector;
let time: number;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gcs-cleanup-'));
  downloadDir = path.join(dir, 'downloads');
  await mkdir(downloadDir);
  const account = await createTestServiceAccount(dir);
  emulator = await startGcsEmulator({ buckets: [BUCKET] });
  time = Date.now();
  db = openDatabase(path.join(dir, 'data'));
  jobs = createSqliteJobStore(db, { jobTtlMs: JOB_TTL_MS, clock: () => time });
  tokens = createSqliteTokenStore(db);
  storage = createStorageSelector({
    local: createLocalStorage({ downloadDir }),
    gcs: createGcsStorage({ bucketName: BUCKET, credentialsFile: account.keyFile, apiEndpoint: emulator.endpoint, logger, maxRetries: 0 }),
    sharedDisk: true,
    logger,
  });
});

afterEach(async () => {
  expect(emulator.unhandled).toEqual([]);
  await tokens.close();
  await jobs.close();
  db.close();
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

function cleanup() {
  return createCleanup({ jobs, tokens, storageFor: storage.storageFor, downloadDir, jobTtlMs: JOB_TTL_MS, logger, clock: () => time });
}

/** A completed job whose file went to the bucket, as the worker leaves it. */
async function uploadedJob(): Promise<{ jobId: string; key: string; token: string }> {
  const jobId = randomUUID();
  await jobs.create(newJob({ id: jobId, url: 'http://127.0.0.1/video.mp4', formatId: 'mp4', downloadType: 'video-audio', clientKey: null, now: time }));
  const source = path.join(dir, `${randomUUID()}.mp4`);
  await writeFile(source, randomBytes(2048));
  const stored = await storage.put(`${jobId}/clip.mp4`, source, { contentType: 'video/mp4', downloadName: 'clip.mp4' });
  expect(stored.storage).toBe('gcs');
  const token = newFileToken();
  await tokens.issue({
    token,
    jobId,
    createdAt: time,
    expiresAt: time + FILE_TTL_MS,
    file: { key: stored.key, name: 'clip.mp4', size: stored.size, contentType: 'video/mp4', storage: stored.storage },
  });
  await jobs.update(jobId, { status: 'completed', token, expireAt: time + FILE_TTL_MS });
  return { jobId, key: stored.key, token };
}

it('deletes the object of an expired token and keeps its tombstone, leaving live ones alone', async () => {
  const expired = await uploadedJob();
  time += FILE_TTL_MS / 2;
  const live = await uploadedJob();
  time += FILE_TTL_MS / 2 + 1;

  const report = await cleanup().run();

  expect(report.expiredTokens).toBe(1);
  expect(report.filesDeleted).toBe(1);
  expect(await emulator.objectNames(BUCKET)).toEqual([live.key]);
  expect((await tokens.resolve(expired.token, time)).state).toBe('expired');
  expect((await tokens.resolve(live.token, time)).state).toBe('valid');
});

it('deletes every object of an expired job record', async () => {
  const { jobId } = await uploadedJob();
  const extra = path.join(dir, 'extra.m4a');
  await writeFile(extra, randomBytes(10));
  await storage.put(`${jobId}/extra.m4a`, extra, { contentType: 'audio/mp4', downloadName: 'extra.m4a' });
  time += JOB_TTL_MS + FILE_TTL_MS + 1;

  const report = await cleanup().run();

  expect(report.expiredJobs).toBe(1);
  expect(await emulator.objectNames(BUCKET)).toEqual([]);
  expect(await jobs.get(jobId)).toBeNull();
});
