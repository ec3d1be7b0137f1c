/**
 * The GCS-or-local choice (SPEC §8): a file goes to the bucket; when the bucket is unusable the job
 * keeps its file locally where the api can read it, or fails with `system_error` where it cannot;
 * health says why. Runs the real local adapter and the GCS adapter against the emulator.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createGcsStorage } from '../../src/storage/gcs-storage.js';
import { createLocalStorage } from '../../src/storage/local-storage.js';
import type { ObjectMeta } from '../../src/storage/object-storage.js';
import { GCS_RETRY_AFTER_MS, createStorageSelector } from '../../src/storage/storage-selector.js';
import { startGcsEmulator, type GcsEmulator } from './gcs-emulator.js';
import { createTestServiceAccount, type TestServiceAccount } from './service-account.js';

const BUCKET = 'ultra-dl-selector';
const META: ObjectMeta = { contentType: 'video/mp4', downloadName: 'clip.mp4' };
const logger = pino({ level: 'silent' });

let dir: string;
let downloadDir: string;
let account: TestServiceAccount;
let emulator: GcsEmulator;
let time: number;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'storage-selector-'));
  downloadDir = path.join(dir, 'downloads');
  await mkdir(downloadDir);
  account = await createTestServiceAccount(dir);
  emulator = await startGcsEmulator({ buckets: [BUCKET] });
  time = Date.now();
});

afterEach(async () => {
  expect(emulator.unhandled).toEqual([]);
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

function selector(options: { sharedDisk?: boolean; gcs?: boolean; endpoint?: string } = {}) {
  const gcs =
    options.gcs === false
      ? null
      : createGcsStorage({
          bucketName: BUCKET,
          credentialsFile: account.keyFile,
          apiEndpoint: options.endpoint ?? emulator.endpoint,
          logger,
          maxRetries: 0,
        });
  return createStorageSelector({
    local: createLocalStorage({ downloadDir }),
    gcs,
    sharedDisk: options.sharedDisk ?? true,
    logger,
    clock: () => time,
  });
}

async function source(bytes = randomBytes(1000)): Promise<string> {
  const file = path.join(dir, `${randomUUID()}.mp4`);
  await writeFile(file, bytes);
  return file;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const uploadCalls = (): string[] => emulator.calls.filter((c) => c.startsWith('upload:'));

describe('storage selector', () => {
  it('stores in GCS when it works, leaving nothing on local disk', async () => {
    const s = selector();
    const key = `${randomUUID()}/clip.mp4`;

    const result = await s.put(key, await source(), META);

    expect(result.storage).toBe('gcs');
    expect(await emulator.objectNames(BUCKET)).toEqual([key]);
    expect(await s.storageFor('local')!.stat(key)).toBeNull();
    expect(await s.gcsHealth()).toBe('connected');
    expect(s.uploads).toBe(true);
  });

  it('falls back to local storage when an upload fails, and health says why', async () => {
    const s = selector();
    emulator.failUploads = 503;
    const key = `${randomUUID()}/clip.mp4`;
    const data = randomBytes(1000);

    const result = await s.put(key, await source(data), META);

    expect(result).toEqual({ key, size: 1000, storage: 'local' });
    expect(await readAll(await s.storageFor('local')!.open(key))).toEqual(data);
    expect(await emulator.objectNames(BUCKET)).toEqual([]);
    const health = await s.gcsHealth();
    expect(health).toBe('error: upload failed: upload of <key> refused by the test');
    // Health is public: a job id there would let anyone delete the job.
    expect(health).not.toContain(key.split('/')[0]);
  });

  it('keeps using local storage for a while after a failure, then tries GCS again', async () => {
    const s = selector();
    emulator.failUploads = 503;
    await s.put(`${randomUUID()}/a.mp4`, await source(), META);
    emulator.failUploads = null;
    emulator.calls.length = 0;

    time += GCS_RETRY_AFTER_MS - 1;
    const second = await s.put(`${randomUUID()}/b.mp4`, await source(), META);
    expect(second.storage).toBe('local');
    expect(uploadCalls()).toEqual([]);

    time += 2;
    const third = await s.put(`${randomUUID()}/c.mp4`, await source(), META);
    expect(third.storage).toBe('gcs');
    expect(await s.gcsHealth()).toBe('connected');
  });

  it('fails the job with system_error when there is no shared disk to fall back on', async () => {
    const s = selector({ sharedDisk: false });
    emulator.failUploads = 503;
    const file = await source();

    const err = await s.put(`${randomUUID()}/clip.mp4`, file, META).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).category).toBe('system_error');
    // The worker removes its work directory; the selector itself leaves the file where it was.
    expect((await stat(file)).size).toBe(1000);
  });

  it('goes straight to local storage when GCS was unreachable at start-up', async () => {
    const closed = await startGcsEmulator({ buckets: [BUCKET] });
    const endpoint = closed.endpoint;
    await closed.close();
    const s = selector({ endpoint });

    await s.start();
    const result = await s.put(`${randomUUID()}/clip.mp4`, await source(), META);

    expect(result.storage).toBe('local');
    expect(await s.gcsHealth()).toBe('disconnected');
  });

  it('uses GCS again once the bucket missing at start-up is back', async () => {
    const s = selector();
    emulator.buckets.delete(BUCKET);

    await s.start();
    expect(await s.gcsHealth()).toBe('error: bucket not found');
    expect((await s.put(`${randomUUID()}/a.mp4`, await source(), META)).storage).toBe('local');
    expect(uploadCalls()).toEqual([]);

    emulator.buckets.add(BUCKET);
    expect(await s.gcsHealth()).toBe('connected');
    expect((await s.put(`${randomUUID()}/b.mp4`, await source(), META)).storage).toBe('gcs');
  });

  it('without GCS stores locally and reports not_configured', async () => {
    const s = selector({ gcs: false });

    const result = await s.put(`${randomUUID()}/clip.mp4`, await source(), META);

    expect(result.storage).toBe('local');
    expect(s.uploads).toBe(false);
    expect(s.storageFor('gcs')).toBeNull();
    expect(await s.gcsHealth()).toBe('not_configured');
  });

  it('deletes a job wherever its files are, and nothing of other jobs', async () => {
    const s = selector();
    const job = randomUUID();
    await s.put(`${job}/in-gcs.mp4`, await source(), META);
    emulator.failUploads = 503;
    await s.put(`${job}/local.mp4`, await source(), META);
    emulator.failUploads = null;
    time += GCS_RETRY_AFTER_MS;
    const other = await s.put(`${randomUUID()}/other.mp4`, await source(), META);
    expect(other.storage).toBe('gcs');

    await s.deleteJob(job);

    expect(await emulator.objectNames(BUCKET)).toEqual([other.key]);
    expect(await s.storageFor('local')!.stat(`${job}/local.mp4`)).toBeNull();
  });
});
