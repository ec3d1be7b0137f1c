/**
 * The rate limits end to end in production mode, through the HTTP API of whole runtimes: embedded
 * (SQLite) and distributed (Redis, two api runtimes). Only the api role runs, so accepted jobs stay
 * queued and no yt-dlp is started; the limits decide before anything reaches a worker.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnService, type SpawnedService } from '../helpers/spawn-service.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { TEST_REDIS_URL, deleteKeys, startPrivateRedis, uniquePrefix, type PrivateRedis } from '../redis/redis-test-env.js';

const MEDIA_URL = 'http://127.0.0.1:9/video.mp4';
const RATE_LIMIT_ENV = {
  NODE_ENV: 'production',
  RATE_LIMIT_ENABLED: 'true',
  RATE_LIMIT_BATCH_MINUTE: '1000',
  RATE_LIMIT_VIDEO_ONLY_DAILY: '3',
  RATE_LIMIT_AUDIO_ONLY_DAILY: '1000',
  RATE_LIMIT_VIDEO_AUDIO_DAILY: '1000',
  RATE_LIMIT_TOTAL_JOBS_DAILY: '5',
  RATE_LIMIT_ENDPOINT_HOURLY: '/api/v1/videos/resolutions:1',
  RATE_LIMIT_WHITELIST: '10.9.0.0/16,2001:db8::1',
  MAX_ACTIVE_JOBS_PER_CLIENT: '1000',
};

/** Each client comes through the trusted loopback proxy with its own forwarded address. */
function download(t: TestApp, client: string, formatId: string) {
  return t.runtime.app!.inject({
    method: 'POST',
    url: '/api/v1/downloads/',
    headers: { 'x-forwarded-for': client },
    payload: { url: MEDIA_URL, format_id: formatId },
  });
}

describe('rate limits through the HTTP API, embedded mode', () => {
  let t: TestApp;
  let dirs: { dataDir: string; downloadDir: string };

  beforeAll(async () => {
    dirs = {
      dataDir: await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-rl-data-')),
      downloadDir: await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-rl-dl-')),
    };
    t = await startTestApp(RATE_LIMIT_ENV, { roles: ['api'], dirs });
  });
  afterAll(async () => {
    await t?.close();
    await rm(dirs.dataDir, { recursive: true, force: true });
    await rm(dirs.downloadDir, { recursive: true, force: true });
  });

  it('refuses the (N+1)th video-only download with daily_video-only and still accepts audio-only', async () => {
    const client = '198.51.100.1';
    for (let i = 0; i < 3; i++) {
      const res = await download(t, client, 'bestvideo');
      expect(res.statusCode).toBe(202);
      expect(res.headers['x-ratelimit-limit']).toBe('3');
      expect(res.headers['x-ratelimit-remaining']).toBe(String(2 - i));
    }
    const refused = await download(t, client, 'bestvideo');
    expect(refused.statusCode).toBe(429);
    const midnight = new Date(Math.ceil((Date.now() + 1) / 86_400_000) * 86_400_000).toISOString();
    expect(refused.json()).toEqual({
      error: 'Rate limit exceeded',
      title: 'Too Many Requests',
      message: "You've made too many requests in a short time.",
      action: 'Please wait a moment before trying again.',
      limit_type: 'daily_video-only',
      reset_at: midnight,
    });
    expect(Number(refused.headers['retry-after'])).toBe(Math.max(1, Math.ceil((Date.parse(midnight) - Date.now()) / 1000)));
    expect(refused.headers['x-ratelimit-remaining']).toBe('0');
    expect(refused.headers['access-control-expose-headers']).toContain('X-RateLimit-Remaining');

    const audio = await download(t, client, 'bestaudio');
    expect(audio.statusCode).toBe(202);
  });

  it('lets daily_total block every type', async () => {
    const client = '198.51.100.2';
    for (const formatId of ['bestvideo', 'bestaudio', 'best', '140', '18']) {
      expect((await download(t, client, formatId)).statusCode).toBe(202);
    }
    for (const formatId of ['bestvideo', 'bestaudio', 'best']) {
      const res = await download(t, client, formatId);
      expect(res.statusCode).toBe(429);
      expect(res.json().limit_type).toBe('daily_total');
    }
  });

  it('never limits a whitelisted client', async () => {
    for (const client of ['10.9.1.2', '2001:db8::1']) {
      for (let i = 0; i < 8; i++) {
        const res = await download(t, client, 'bestvideo');
        expect(res.statusCode).toBe(202);
        expect(res.headers['x-ratelimit-limit']).toBeUndefined();
      }
    }
  });

  it('spends nothing on an invalid format_id or URL', async () => {
    const client = '198.51.100.3';
    const bad = [
      { url: MEDIA_URL, format_id: '137;ls' },
      { url: MEDIA_URL, format_id: '' },
      { url: 'ftp://127.0.0.1/x', format_id: '137' },
      { url: 'https://not-allowed.example/v', format_id: '137' },
    ];
    for (let round = 0; round < 2; round++) {
      for (const payload of bad) {
        const res = await t.runtime.app!.inject({ method: 'POST', url: '/api/v1/downloads/', headers: { 'x-forwarded-for': client }, payload });
        expect(res.statusCode).toBe(400);
      }
    }
    const first = await download(t, client, 'bestvideo');
    expect(first.statusCode).toBe(202);
    expect(first.headers['x-ratelimit-remaining']).toBe('2');
  });

  it('accepts exactly 3 of 50 concurrent downloads from one IP', async () => {
    const client = '198.51.100.4';
    const results = await Promise.all(Array.from({ length: 50 }, () => download(t, client, 'bestvideo')));
    const codes = results.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 202)).toHaveLength(3);
    expect(codes.filter((c) => c === 429)).toHaveLength(47);
  });

  it('limits a listed endpoint per hour, whatever its trailing slash', async () => {
    const client = '198.51.100.5';
    const ask = (url: string) =>
      t.runtime.app!.inject({
        method: 'POST',
        url,
        headers: { 'x-forwarded-for': client },
        // Allowed, so it spends quota; nothing listens on port 9, so yt-dlp fails fast (502).
        payload: { url: 'http://127.0.0.1:9/v.mp4' },
      });
    const first = await ask('/api/v1/videos/resolutions');
    expect(first.statusCode).toBe(502);
    expect(first.headers['x-ratelimit-remaining']).toBe('0');
    const second = await ask('/api/v1/videos/resolutions/');
    expect(second.statusCode).toBe(429);
    expect(second.json().limit_type).toBe('endpoint_hourly');
  });

  it('spends no hourly quota on a URL the policy refuses', async () => {
    const client = '198.51.100.6';
    const ask = (url: string) =>
      t.runtime.app!.inject({
        method: 'POST',
        url: '/api/v1/videos/resolutions',
        headers: { 'x-forwarded-for': client },
        payload: { url },
      });
    for (let i = 0; i < 3; i++) expect((await ask('https://not-allowed.example/v')).statusCode).toBe(400);
    expect((await ask('http://127.0.0.1:9/v.mp4')).statusCode).toBe(502);
    expect((await ask('http://127.0.0.1:9/v.mp4')).statusCode).toBe(429);
  });

  it('answers a malformed X-Forwarded-For without a 5xx', async () => {
    for (const xff of ['not-an-ip', '1.2.3.4:5678', '[::1]', 'x'.repeat(10_240)]) {
      const res = await download(t, xff, 'bestaudio');
      expect(res.statusCode, xff.slice(0, 20)).toBeLessThan(500);
    }
  });

  it('keeps the daily counts across a restart', async () => {
    await t.close();
    t = await startTestApp(RATE_LIMIT_ENV, { roles: ['api'], dirs });
    const res = await download(t, '198.51.100.1', 'bestvideo');
    expect(res.statusCode).toBe(429);
    expect(res.json().limit_type).toBe('daily_video-only');
    expect((await download(t, '198.51.100.1', 'bestaudio')).statusCode).toBe(202);
  });
});

describe('rate limits through the HTTP API, distributed mode', () => {
  const prefix = uniquePrefix();
  const apps: TestApp[] = [];

  beforeAll(async () => {
    const env = { ...RATE_LIMIT_ENV, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix };
    apps.push(await startTestApp(env, { roles: ['api'] }));
    apps.push(await startTestApp(env, { roles: ['api'] }));
  });
  afterAll(async () => {
    for (const a of apps) await a.close();
    await deleteKeys(TEST_REDIS_URL, prefix);
  });

  it('shares the counters between two api processes: exactly 3 of 50 concurrent downloads', async () => {
    const client = '198.51.100.20';
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => download(apps[i % 2]!, client, 'bestvideo')));
    const accepted = results.filter((r) => r.statusCode === 202);
    expect(accepted).toHaveLength(3);
    expect(results.filter((r) => r.statusCode === 429)).toHaveLength(47);
    for (const a of apps) {
      const res = await download(a, client, 'bestvideo');
      expect(res.json().limit_type).toBe('daily_video-only');
    }
  });

  it('refuses the (N+1)th video-only download and still accepts audio-only', async () => {
    const client = '198.51.100.21';
    for (let i = 0; i < 3; i++) expect((await download(apps[i % 2]!, client, 'bestvideo')).statusCode).toBe(202);
    const refused = await download(apps[1]!, client, 'bestvideo');
    expect(refused.statusCode).toBe(429);
    expect(refused.json().limit_type).toBe('daily_video-only');
    expect((await download(apps[0]!, client, 'bestaudio')).statusCode).toBe(202);
  });
});

describe('rate limits shared by two real api processes', () => {
  const prefix = uniquePrefix();
  const procs: SpawnedService[] = [];
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-rl-proc-'));
    const env = {
      ...RATE_LIMIT_ENV,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: prefix,
      HOST: '127.0.0.1',
      PORT: '0',
      ALLOWED_HOSTS: '127.0.0.1',
      DATA_DIR: dataDir,
      DOWNLOAD_DIR: path.join(dataDir, 'downloads'),
    };
    procs.push(...(await Promise.all([spawnService('api', env), spawnService('api', env)])));
  });
  afterAll(async () => {
    for (const p of procs) {
      p.kill('SIGTERM');
      await p.exited;
    }
    await deleteKeys(TEST_REDIS_URL, prefix);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('accepts exactly 3 of 50 concurrent downloads sent to both processes', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(`${procs[i % 2]!.url}/api/v1/downloads/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.40' },
          body: JSON.stringify({ url: MEDIA_URL, format_id: 'bestvideo' }),
        }).then(async (res) => ({ status: res.status, body: (await res.json()) as { limit_type?: string } })),
      ),
    );
    expect(results.filter((r) => r.status === 202)).toHaveLength(3);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(47);
    expect(refused.every((r) => r.body.limit_type === 'daily_video-only')).toBe(true);
  });
});

describe('a failing limiter store never gives a 429', () => {
  let redis: PrivateRedis;
  let t: TestApp;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    redis = await startPrivateRedis('rl-secret');
    t = await startTestApp(
      { ...RATE_LIMIT_ENV, RATE_LIMIT_VIDEO_ONLY_DAILY: '1', REDIS_URL: redis.url(), REDIS_PREFIX: prefix },
      { roles: ['api'] },
    );
  });
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
  });

  const resolutions = (client: string) =>
    t.runtime.app!.inject({
      method: 'POST',
      url: '/api/v1/videos/resolutions',
      headers: { 'x-forwarded-for': client },
      payload: { url: 'http://127.0.0.1:9/v.mp4' },
    });

  it('passes limited requests while Redis is down, answers 503 where Redis is needed, and limits again once back', async () => {
    const client = '198.51.100.30';
    expect((await download(t, client, 'bestvideo')).statusCode).toBe(202);
    expect((await download(t, client, 'bestvideo')).statusCode).toBe(429);
    expect((await resolutions(client)).statusCode).toBe(502);
    expect((await resolutions(client)).statusCode).toBe(429);

    await redis.stop();
    for (let i = 0; i < 3; i++) {
      // The hourly limit is spent, but its store is down: the request passes the limiter and then
      // needs Redis for the metadata cache, so it gets the 503 of a Redis outage, not a 429.
      const limited = await resolutions(client);
      expect(limited.statusCode).toBe(503);
      expect(limited.json().error).toBe('system_error');
      const res = await download(t, client, 'bestvideo');
      expect(res.statusCode).toBe(503);
      expect(res.json().error).toBe('system_error');
    }
    const health = await t.runtime.app!.inject({ url: '/health' });
    expect((health.json() as { rate_limit_fail_open: number }).rate_limit_fail_open).toBeGreaterThanOrEqual(3);

    await redis.start();
    let status = 0;
    for (let i = 0; i < 50 && status !== 202; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await download(t, '198.51.100.31', 'bestvideo')).statusCode;
    }
    expect(status).toBe(202);
    expect((await download(t, '198.51.100.31', 'bestvideo')).statusCode).toBe(429);
  });
});
