/**
 * Bounds on work (SPEC §10) through the HTTP API: MAX_QUEUED_JOBS answers 503 with Retry-After,
 * MAX_ACTIVE_JOBS_PER_CLIENT answers 429 `active_jobs` (not for whitelisted clients), and live
 * streams and over-long videos are refused. Only the api role runs, so accepted jobs stay pending.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCache } from '../../src/cache/memory-cache.js';
import { createMetadataService } from '../../src/videos/metadata-service.js';
import type { MediaUrl } from '../../src/videos/media-url.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const URL = 'http://127.0.0.1:9/video.mp4';

function post(t: TestApp, client: string) {
  return t.runtime.app!.inject({
    method: 'POST',
    url: '/api/v1/downloads/',
    headers: { 'x-forwarded-for': client },
    payload: { url: URL, format_id: 'best' },
  });
}

describe('MAX_ACTIVE_JOBS_PER_CLIENT', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(
      {
        NODE_ENV: 'production',
        RATE_LIMIT_ENABLED: 'true',
        RATE_LIMIT_BATCH_MINUTE: '1000',
        RATE_LIMIT_TOTAL_JOBS_DAILY: '1000',
        RATE_LIMIT_VIDEO_AUDIO_DAILY: '1000',
        RATE_LIMIT_WHITELIST: '10.9.0.0/16',
        MAX_ACTIVE_JOBS_PER_CLIENT: '2',
      },
      { roles: ['api'] },
    );
  });
  afterAll(async () => t?.close());

  it('refuses a client with too many pending jobs with 429 active_jobs', async () => {
    expect((await post(t, '198.51.100.40')).statusCode).toBe(202);
    expect((await post(t, '198.51.100.40')).statusCode).toBe(202);
    const refused = await post(t, '198.51.100.40');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ error: 'Rate limit exceeded', limit_type: 'active_jobs' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // Another client is not affected.
    expect((await post(t, '198.51.100.41')).statusCode).toBe(202);
  });

  it('never bounds a whitelisted client', async () => {
    for (let i = 0; i < 5; i++) expect((await post(t, '10.9.1.2')).statusCode).toBe(202);
  });
});

describe('MAX_QUEUED_JOBS', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ MAX_QUEUED_JOBS: '3' }, { roles: ['api'] });
  });
  afterAll(async () => t?.close());

  it('answers 503 system_error with Retry-After once the queue is full', async () => {
    for (let i = 0; i < 3; i++) expect((await post(t, '198.51.100.50')).statusCode).toBe(202);
    const full = await post(t, '198.51.100.51');
    expect(full.statusCode).toBe(503);
    expect(full.json().error).toBe('system_error');
    expect(Number(full.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('downloadable videos', () => {
  const service = (info: Record<string, unknown>, maxDurationSeconds: number | null) =>
    createMetadataService({
      extractInfo: async () => info,
      cache: createMemoryCache(),
      ttlSeconds: 60,
      maxDurationSeconds,
    });

  it.each([
    [{ is_live: true }, null, 'video_unavailable'],
    [{ live_status: 'is_upcoming' }, null, 'video_unavailable'],
    [{ duration: 3601 }, 3600, 'file_too_large'],
  ])('refuses %j (MAX_DURATION_SECONDS=%s) with %s', async (extra, max, category) => {
    const s = service({ id: 'x', title: 't', formats: [], ...extra }, max);
    const { info } = await s.resolve(URL as MediaUrl);
    expect(() => s.assertDownloadable(info)).toThrow(expect.objectContaining({ category }));
  });

  it('accepts a finished video within the bound, and one of unknown length', async () => {
    for (const info of [{ duration: 3600 }, { duration: null }]) {
      const s = service({ id: 'x', formats: [], ...info }, 3600);
      expect(() => s.assertDownloadable(info)).not.toThrow();
    }
  });
});
