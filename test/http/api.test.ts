/**
 * The REST API of SPEC §2 through `inject()` and a real socket, on a whole embedded runtime with
 * real yt-dlp against the loopback media server.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_FORMAT_IDS, startMediaServer, type MediaServer } from '../helpers/media.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';

const ERROR_KEYS = ['action', 'error', 'message', 'title'];
const JOB_KEYS = [
  'download_url',
  'error',
  'error_category',
  'expire_at',
  'job_id',
  'progress',
  'status',
  'time_remaining',
].sort();

let media: MediaServer;
let t: TestApp;

beforeAll(async () => {
  media = await startMediaServer();
  t = await startTestApp();
});

afterAll(async () => {
  await t?.close();
  await media?.close();
});

function inject(opts: InjectOptions) {
  return t.runtime.app!.inject(opts);
}

function expectErrorBody(body: unknown, category?: string) {
  const b = body as Record<string, unknown>;
  for (const key of ERROR_KEYS) expect(typeof b[key], `key ${key}`).toBe('string');
  if (category) expect(b.error).toBe(category);
}

async function completedJob(url: string, formatId: string) {
  const created = await inject({ method: 'POST', url: '/api/v1/downloads/', payload: { url, format_id: formatId } });
  expect(created.statusCode).toBe(202);
  const { job_id } = created.json() as { job_id: string };
  return waitFor(async () => {
    const res = await inject({ method: 'GET', url: `/api/v1/jobs/${job_id}` });
    const job = res.json() as Record<string, unknown>;
    if (job.status === 'failed') throw new Error(`job failed: ${String(job.error)}`);
    return job.status === 'completed' ? job : null;
  }, 30_000);
}

describe('health', () => {
  it.each(['/health', '/health/', '/api/v1/system/health', '/api/v1/system/health/'])('answers on %s', async (url) => {
    const res = await inject({ method: 'GET', url });
    expect(res.statusCode).toBe(200);
    const body = res.json() as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 'ok',
      mode: 'embedded',
      redis: 'not_configured',
      celery: 'available',
      gcs: 'not_configured',
      socketio: 'available',
    });
    expect(body.ytdlp).toMatch(/^\d{4}\.\d{2}\.\d{2}/);
    expect(body.queue).toEqual({ waiting: expect.any(Number), active: expect.any(Number) });
    expect(typeof body.disk_free_bytes).toBe('number');
  });
});

describe('routing and body errors', () => {
  it('answers an unknown route with a 404 error body', async () => {
    const res = await inject({ method: 'GET', url: '/api/v1/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expectErrorBody(res.json(), 'invalid_request');
  });

  it('answers a wrong method with 405 and Allow', async () => {
    const res = await inject({ method: 'PUT', url: '/api/v1/downloads/' });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toContain('POST');
    expectErrorBody(res.json(), 'invalid_request');
  });

  it('refuses a non-JSON body with 415', async () => {
    const res = await inject({
      method: 'POST',
      url: '/api/v1/videos/resolutions',
      headers: { 'content-type': 'text/plain' },
      payload: 'url=x',
    });
    expect(res.statusCode).toBe(415);
    expectErrorBody(res.json(), 'invalid_request');
  });

  it('refuses a body over 16 KiB with 413', async () => {
    const res = await inject({
      method: 'POST',
      url: '/api/v1/downloads/',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ url: 'x'.repeat(17 * 1024), format_id: '18' }),
    });
    expect(res.statusCode).toBe(413);
    expectErrorBody(res.json(), 'invalid_request');
  });

  it('refuses malformed JSON with 400', async () => {
    const res = await inject({
      method: 'POST',
      url: '/api/v1/downloads',
      headers: { 'content-type': 'application/json' },
      payload: '{"url": ',
    });
    expect(res.statusCode).toBe(400);
    expectErrorBody(res.json(), 'invalid_request');
  });

  it('names the missing field of a schema failure', async () => {
    const res = await inject({ method: 'POST', url: '/api/v1/downloads/', payload: { url: `${media.baseUrl}/video.mp4` } });
    expect(res.statusCode).toBe(400);
    const body = res.json() as { errors: Record<string, string> };
    expectErrorBody(body, 'invalid_request');
    expect(body.errors.format_id).toBeDefined();
  });

  it('answers an unknown job with 404 job_not_found', async () => {
    const res = await inject({ method: 'GET', url: '/api/v1/jobs/00000000-0000-4000-8000-000000000000/' });
    expect(res.statusCode).toBe(404);
    expectErrorBody(res.json(), 'job_not_found');
    const del = await inject({ method: 'DELETE', url: '/api/v1/jobs/00000000-0000-4000-8000-000000000000' });
    expect(del.statusCode).toBe(404);
    expectErrorBody(del.json(), 'job_not_found');
    const long = await inject({ method: 'GET', url: `/api/v1/jobs/${'x'.repeat(150)}` });
    expect(long.statusCode).toBe(404);
    expectErrorBody(long.json(), 'job_not_found');
  });
});

describe('docs', () => {
  it('serves an OpenAPI document generated from the route schemas', async () => {
    const res = await inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of ['/api/v1/videos/resolutions', '/api/v1/downloads/', '/api/v1/jobs/{job_id}', '/api/v1/downloads/file/{token}']) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  });

  it('serves Swagger UI', async () => {
    const res = await inject({ method: 'GET', url: '/api/v1/docs/' });
    expect([200, 302]).toContain(res.statusCode);
    const page = res.statusCode === 302 ? await inject({ method: 'GET', url: res.headers.location as string }) : res;
    expect(page.body).toContain('swagger');
  });
});

describe('resolutions', () => {
  it('lists the formats of a progressive file', async () => {
    const res = await inject({
      method: 'POST',
      url: '/api/v1/videos/resolutions',
      payload: { url: `${media.baseUrl}/video.mp4` },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { meta: Record<string, unknown>; formats: Record<string, unknown>[] };
    expect(body.meta).toMatchObject({ title: 'video' });
    expect(body.formats.map((f) => f.format_id)).toContain(MEDIA_FORMAT_IDS.progressive);
    for (const f of body.formats) {
      expect(Object.keys(f)).toEqual(
        expect.arrayContaining(['format_id', 'ext', 'resolution', 'height', 'note', 'filesize', 'vcodec', 'acodec', 'quality_label', 'type']),
      );
    }
  });

  it('lists the DASH formats in SPEC order', async () => {
    const res = await inject({
      method: 'POST',
      url: '/api/v1/videos/resolutions',
      payload: { url: `${media.baseUrl}/dash/manifest.mpd` },
    });
    expect(res.statusCode).toBe(200);
    const formats = (res.json() as { formats: { format_id: string; type: string; height: number }[] }).formats;
    expect(formats.map((f) => f.format_id)).toEqual([
      MEDIA_FORMAT_IDS.dashVideo[360],
      MEDIA_FORMAT_IDS.dashVideo[240],
      MEDIA_FORMAT_IDS.dashVideo[144],
      MEDIA_FORMAT_IDS.dashAudio,
    ]);
    expect(formats.map((f) => f.type)).toEqual(['video_only', 'video_only', 'video_only', 'audio_only']);
  });

  it.each([
    ['/error/404', 400, 'video_unavailable'],
    ['/error/429', 503, 'platform_rate_limited'],
    ['/error/reset', 502, 'network_error'],
  ])('maps an extraction failure of %s to %i %s', async (route, status, category) => {
    const res = await inject({ method: 'POST', url: '/api/v1/videos/resolutions', payload: { url: `${media.baseUrl}${route}` } });
    expect(res.statusCode).toBe(status);
    expectErrorBody(res.json(), category);
  });

  it('refuses a host outside ALLOWED_HOSTS', async () => {
    const res = await inject({ method: 'POST', url: '/api/v1/videos/resolutions', payload: { url: 'http://localhost:1/x.mp4' } });
    expect(res.statusCode).toBe(400);
    expectErrorBody(res.json(), 'invalid_url');
  });
});

describe('a download from POST to file', () => {
  let job: Record<string, unknown>;
  let link: string;

  beforeAll(async () => {
    job = await completedJob(`${media.baseUrl}/named/${encodeURIComponent('Tést vidéo ✓')}.mp4`, MEDIA_FORMAT_IDS.progressive);
    link = job.download_url as string;
  });

  it('shows the exact job status keys with a token link', async () => {
    expect(Object.keys(job).sort()).toEqual(JOB_KEYS);
    expect(job.progress).toEqual({ percentage: 100, phase: 'completed', speed: null, eta: null });
    expect(link).toMatch(/^\/api\/v1\/downloads\/file\/[A-Za-z0-9_-]{43}$/);
    expect(new Date(job.expire_at as string).toISOString()).toBe(job.expire_at);
    expect(job.time_remaining).toBeGreaterThanOrEqual(1);
    expect(job.error).toBeNull();
    expect(job.error_category).toBeNull();
  });

  it('streams the file as an attachment with RFC 6266 filename*', async () => {
    const res = await fetch(`${t.url}${link}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    const disposition = res.headers.get('content-disposition') ?? '';
    expect(disposition).toMatch(/^attachment;/);
    expect(disposition).toContain(`filename*=UTF-8''${encodeURIComponent('Tést vidéo ✓')}`);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(Number(res.headers.get('content-length')));
    expect(body.subarray(4, 8).toString('latin1')).toBe('ftyp');
  });

  it('serves ranges, 416 and 304', async () => {
    const head = await fetch(`${t.url}${link}`, { method: 'HEAD' });
    const size = Number(head.headers.get('content-length'));
    const etag = head.headers.get('etag')!;
    expect(etag).toBeTruthy();

    const part = await fetch(`${t.url}${link}`, { headers: { range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 0-99/${size}`);
    expect((await part.arrayBuffer()).byteLength).toBe(100);

    const bad = await fetch(`${t.url}${link}`, { headers: { range: `bytes=${size + 10}-` } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${size}`);

    const cached = await fetch(`${t.url}${link}`, { headers: { 'if-none-match': etag } });
    expect(cached.status).toBe(304);
  });

  it('gives 404 for the job and its link after DELETE', async () => {
    const del = await inject({ method: 'DELETE', url: `/api/v1/jobs/${String(job.job_id)}/` });
    expect(del.statusCode).toBe(204);
    const again = await inject({ method: 'GET', url: `/api/v1/jobs/${String(job.job_id)}` });
    expect(again.statusCode).toBe(404);
    const file = await inject({ method: 'GET', url: link });
    expect(file.statusCode).toBe(404);
    expectErrorBody(file.json(), 'file_not_found');
  });

  it('answers 400 for a malformed token and 404 for an unknown one', async () => {
    expect((await inject({ method: 'GET', url: '/api/v1/downloads/file/not-a-token' })).statusCode).toBe(400);
    const unknown = await inject({ method: 'GET', url: `/api/v1/downloads/file/${'A'.repeat(43)}` });
    expect(unknown.statusCode).toBe(404);
    expectErrorBody(unknown.json(), 'file_not_found');
  });
});
