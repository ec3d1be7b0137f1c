/**
 * What the GCS adapter does beyond the storage contract: which upload call it picks, the object's
 * HTTP metadata, signed URLs that the (emulated) bucket accepts, and health values.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { attachmentDisposition } from '../../src/files/content-disposition.js';
import { createGcsStorage, gcsHealthFromError } from '../../src/storage/gcs-storage.js';
import type { ObjectMeta } from '../../src/storage/object-storage.js';
import { startGcsEmulator, type GcsEmulator } from './gcs-emulator.js';
import { createTestServiceAccount, type TestServiceAccount } from './service-account.js';

const BUCKET = 'ultra-dl-adapter';
const META: ObjectMeta = { contentType: 'video/mp4', downloadName: 'Été – clip.mp4' };
const logger = pino({ level: 'silent' });

let dir: string;
let account: TestServiceAccount;
let emulator: GcsEmulator;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gcs-adapter-'));
  account = await createTestServiceAccount(dir);
  emulator = await startGcsEmulator({ buckets: [BUCKET], signer: account });
});

afterAll(async () => {
  await emulator?.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  expect(emulator.unhandled).toEqual([]);
  emulator.calls.length = 0;
  emulator.failUploads = null;
});

function storage(overrides: Partial<Parameters<typeof createGcsStorage>[0]> = {}) {
  return createGcsStorage({
    bucketName: BUCKET,
    credentialsFile: account.keyFile,
    apiEndpoint: emulator.endpoint,
    logger,
    maxRetries: 0,
    resumableThresholdBytes: 1024 * 1024,
    ...overrides,
  });
}

async function source(bytes: Buffer): Promise<string> {
  const file = path.join(dir, `${randomUUID()}.mp4`);
  await writeFile(file, bytes);
  return file;
}

async function objectMetadata(key: string): Promise<Record<string, string>> {
  const res = await fetch(`${emulator.endpoint}/storage/v1/b/${BUCKET}/o/${encodeURIComponent(key)}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, string>;
}

describe('GCS adapter uploads', () => {
  it('sends a small file as one multipart request with its Content-Type and Content-Disposition', async () => {
    const key = `${randomUUID()}/clip.mp4`;
    const file = await source(randomBytes(4096));

    await storage().put(key, file, META);

    expect(emulator.calls.filter((c) => c.startsWith('upload:'))).toEqual(['upload:multipart']);
    const meta = await objectMetadata(key);
    expect(meta.contentType).toBe('video/mp4');
    // The same header the token link sends for a local file.
    expect(meta.contentDisposition).toBe(attachmentDisposition(META.downloadName));
    expect(meta.contentDisposition).toMatch(/^attachment; filename="[ -~]+"; filename\*=UTF-8''%C3%89t%C3%A9/);
    await expect(stat(file)).rejects.toThrow();
  });

  it('sends a file above the threshold through a resumable session in several chunks', async () => {
    const key = `${randomUUID()}/big.webm`;
    const data = randomBytes(9 * 1024 * 1024);

    const result = await storage().put(key, await source(data), { contentType: 'video/webm', downloadName: 'big.webm' });

    expect(result).toEqual({ key, size: data.length, storage: 'gcs' });
    const uploads = emulator.calls.filter((c) => c.startsWith('upload:'));
    expect(uploads[0]).toBe('upload:resumable');
    expect(uploads.filter((c) => c === 'upload:chunk').length).toBeGreaterThanOrEqual(2);
    const meta = await objectMetadata(key);
    expect(meta.contentType).toBe('video/webm');
    expect(meta.contentDisposition).toMatch(/^attachment; filename="big\.webm"/);
    expect(meta.size).toBe(String(data.length));
  });

  it('keeps the local file and fails with system_error when the bucket refuses the upload', async () => {
    emulator.failUploads = 503;
    const file = await source(randomBytes(100));

    const err = await storage().put(`${randomUUID()}/x.mp4`, file, META).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).category).toBe('system_error');
    expect((await stat(file)).size).toBe(100);
  });
});

describe('GCS adapter signed URLs', () => {
  it('gives a URL the bucket serves as an attachment without our credentials', async () => {
    const key = `${randomUUID()}/clip.mp4`;
    const data = randomBytes(2048);
    const gcs = storage();
    await gcs.put(key, await source(data), META);

    const url = await gcs.signedUrl(key, Date.now() + 60_000, META);
    const res = await fetch(url!);

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; .*filename\*=UTF-8''%C3%89t%C3%A9/);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(data);
  });

  it('a tampered signed URL is refused by the bucket', async () => {
    const gcs = storage();
    const key = `${randomUUID()}/a.mp4`;
    await gcs.put(key, await source(randomBytes(10)), META);
    const other = `${randomUUID()}/b.mp4`;
    await gcs.put(other, await source(randomBytes(10)), META);

    const url = new URL((await gcs.signedUrl(key, Date.now() + 60_000, META))!);
    url.pathname = `/${BUCKET}/${encodeURIComponent(other)}`;

    expect((await fetch(url)).status).toBe(403);
  });

  it('refuses to sign for a token that has already expired', async () => {
    const err = await storage().signedUrl(`${randomUUID()}/a.mp4`, Date.now() - 1, META).catch((e: unknown) => e);
    expect((err as AppError).category).toBe('file_expired');
  });
});

describe('GCS adapter health', () => {
  it('is connected when the bucket answers', async () => {
    expect(await storage().health()).toBe('connected');
    expect(emulator.calls).toContain('bucket:metadata');
  });

  it('names a missing bucket as an error', async () => {
    expect(await storage({ bucketName: 'no-such-bucket' }).health()).toBe('error: bucket not found');
  });

  it('is disconnected when nothing listens at the endpoint', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));

    expect(await storage({ apiEndpoint: `http://127.0.0.1:${port}` }).health()).toBe('disconnected');
  });

  it('names an unreadable credentials file without showing its path', async () => {
    const health = await storage({ apiEndpoint: undefined, credentialsFile: path.join(dir, 'missing-key.json') }).health();
    expect(health).toBe('error: credentials file not readable');
  });

  it('maps permission failures and unknown failures to short error reasons', () => {
    expect(gcsHealthFromError(Object.assign(new Error('Forbidden'), { code: 403 }))).toBe('error: access denied (HTTP 403)');
    expect(gcsHealthFromError(Object.assign(new Error('boom'), { code: 500 }))).toBe('error: HTTP 500 boom');
    expect(gcsHealthFromError(new Error('Could not load the default credentials.\nmore'))).toBe(
      'error: Could not load the default credentials.',
    );
    expect(gcsHealthFromError(Object.assign(new Error('x'), { cause: { code: 'ECONNRESET' } }))).toBe('disconnected');
  });
});
