/**
 * A whole ultra-dl process with GCS configured the way a deployer does it (`GCS_BUCKET_NAME`,
 * `GOOGLE_APPLICATION_CREDENTIALS`), its client pointed at the in-process emulator through the
 * library's own `STORAGE_EMULATOR_HOST`. Real yt-dlp and ffmpeg against the loopback media server.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_FORMAT_IDS, startMediaServer, type MediaServer } from '../helpers/media.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';
import { startGcsEmulator, type GcsEmulator } from './gcs-emulator.js';
import { createTestServiceAccount, type TestServiceAccount } from './service-account.js';
import { verifyV4SignedUrl } from './signed-url-verifier.js';

const BUCKET = 'ultra-dl-e2e';
const SIGNED_URL_TTL_SECONDS = 120;

let dir: string;
let account: TestServiceAccount;
let emulator: GcsEmulator;
let media: MediaServer;
let t: TestApp;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gcs-e2e-'));
  account = await createTestServiceAccount(dir);
  emulator = await startGcsEmulator({ buckets: [BUCKET], signer: account });
  media = await startMediaServer();
  process.env.STORAGE_EMULATOR_HOST = emulator.endpoint;
  t = await startTestApp({
    GCS_BUCKET_NAME: BUCKET,
    GOOGLE_APPLICATION_CREDENTIALS: account.keyFile,
    SIGNED_URL_TTL_SECONDS: String(SIGNED_URL_TTL_SECONDS),
  });
});

afterAll(async () => {
  await t?.close();
  delete process.env.STORAGE_EMULATOR_HOST;
  await media?.close();
  await emulator?.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  expect(emulator.unhandled).toEqual([]);
  emulator.failUploads = null;
});

async function api(method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) {
  const res = await t.runtime.app!.inject({ method, url, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, headers: res.headers, body: res.body ? (res.json() as Record<string, any>) : null };
}

async function completedJob(): Promise<{ jobId: string; job: Record<string, any> }> {
  const created = await api('POST', '/api/v1/downloads/', { url: `${media.baseUrl}/video.mp4`, format_id: MEDIA_FORMAT_IDS.progressive });
  expect(created.status).toBe(202);
  const jobId = created.body!.job_id as string;
  const job = await waitFor(async () => {
    const res = await api('GET', `/api/v1/jobs/${jobId}`);
    return ['completed', 'failed'].includes(res.body!.status) ? res.body! : null;
  }, 40_000);
  expect(job.status, String(job.error)).toBe('completed');
  return { jobId, job };
}

describe('GCS end to end', () => {
  it('stores the file in the bucket and the token link redirects to a fresh signed URL', async () => {
    const { jobId, job } = await completedJob();

    expect(job.download_url).toMatch(/^\/api\/v1\/downloads\/file\/[A-Za-z0-9_-]{43}$/);
    const names = await emulator.objectNames(BUCKET);
    expect(names).toHaveLength(1);
    expect(names[0]!.startsWith(`${jobId}/`)).toBe(true);
    // The local copy is removed once uploaded.
    expect(existsSync(path.join(t.downloadDir, jobId))).toBe(false);

    const before = Date.now();
    const link = await fetch(`${t.url}${job.download_url}`, { redirect: 'manual' });
    expect(link.status).toBe(302);
    const location = link.headers.get('location')!;
    const grant = verifyV4SignedUrl(location, { publicKey: account.publicKey, clientEmail: account.clientEmail });
    expect(grant.object).toBe(names[0]);
    expect(grant.expiresSeconds).toBeLessThanOrEqual(SIGNED_URL_TTL_SECONDS);
    expect(grant.expiresAt).toBeLessThanOrEqual(Date.parse(job.expire_at));
    expect(grant.signedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 1000);

    const file = await fetch(location);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('video/mp4');
    expect(file.headers.get('content-disposition')).toMatch(/^attachment; filename=".*\.mp4"/);
    const bytes = Buffer.from(await file.arrayBuffer());
    // An mp4 starts with an `ftyp` box.
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');

    expect((await api('GET', '/health')).body!.gcs).toBe('connected');
  });

  it('DELETE removes the object from the bucket and the link then answers 404', async () => {
    const { jobId, job } = await completedJob();
    expect((await emulator.objectNames(BUCKET)).some((n) => n.startsWith(`${jobId}/`))).toBe(true);

    expect((await api('DELETE', `/api/v1/jobs/${jobId}`)).status).toBe(204);

    expect((await emulator.objectNames(BUCKET)).some((n) => n.startsWith(`${jobId}/`))).toBe(false);
    const link = await api('GET', job.download_url as string);
    expect(link.status).toBe(404);
    expect(link.body!.error).toBe('file_not_found');
  });

  it('falls back to local storage when uploads fail: the link serves the file, health says why', async () => {
    emulator.failUploads = 503;

    const { jobId, job } = await completedJob();

    expect((await emulator.objectNames(BUCKET)).some((n) => n.startsWith(`${jobId}/`))).toBe(false);
    const link = await fetch(`${t.url}${job.download_url}`, { redirect: 'manual' });
    expect(link.status).toBe(200);
    expect(Buffer.from(await link.arrayBuffer()).subarray(4, 8).toString('latin1')).toBe('ftyp');
    const health = await api('GET', '/health');
    expect(health.body!.gcs).toMatch(/^error: upload failed: /);
    expect(health.body!.gcs).not.toContain(jobId);
    // A GCS problem does not degrade health (SPEC §2): jobs fall back.
    expect(health.body!.status).toBe('ok');
  });
});
