import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errorBody } from '../../src/errors.js';
import { createRateLimitService, type RateLimitService } from '../../src/ratelimit/rate-limit-service.js';
import { expect429, limitConfig, openBackend, silent, type BackendKind, type TestBackend } from './rate-limit-test-env.js';

const utc = (iso: string) => Date.parse(iso);
const IP = '203.0.113.9';

describe.each<BackendKind>(['sqlite', 'redis', 'memory'])('rate-limit service on %s', (kind) => {
  let tb: TestBackend;
  let now: number;
  const services: RateLimitService[] = [];
  const clock = () => now;

  function service(env: Record<string, string>, backend = tb.backend): RateLimitService {
    const s = createRateLimitService({ config: limitConfig(env), backend, logger: silent, clock });
    services.push(s);
    return s;
  }

  beforeEach(async () => {
    tb = await openBackend(kind);
    now = utc('2026-12-04T14:43:20Z');
  });
  afterEach(async () => {
    for (const s of services.splice(0)) s.close();
    await tb.cleanup();
  });

  it('refuses the (N+1)th video-only download of the UTC day and still accepts audio-only', async () => {
    const s = service({ RATE_LIMIT_VIDEO_ONLY_DAILY: '2' });
    await s.consumeDownload(IP, 'video-only');
    await s.consumeDownload(IP, 'video-only');
    const err = await expect429(s.consumeDownload(IP, 'video-only'), 'daily_video-only');
    expect(err.extra?.reset_at).toBe('2026-12-05T00:00:00.000Z');
    expect(err.headers).toMatchObject({
      'Retry-After': String((utc('2026-12-05T00:00:00Z') - now) / 1000),
      'X-RateLimit-Limit': '2',
      'X-RateLimit-Remaining': '0',
      'X-RateLimit-Reset': String(utc('2026-12-05T00:00:00Z') / 1000),
    });
    expect(errorBody(err)).toEqual({
      error: 'Rate limit exceeded',
      title: 'Too Many Requests',
      message: "You've made too many requests in a short time.",
      action: 'Please wait a moment before trying again.',
      limit_type: 'daily_video-only',
      reset_at: '2026-12-05T00:00:00.000Z',
    });
    await expect(s.consumeDownload(IP, 'audio-only')).resolves.toBeDefined();
    await expect(s.consumeDownload(IP, 'video-audio')).resolves.toBeDefined();
    // Another client has its own counters.
    await expect(s.consumeDownload('203.0.113.10', 'video-only')).resolves.toBeDefined();
  });

  it('lets daily_total block every type', async () => {
    const s = service({ RATE_LIMIT_TOTAL_JOBS_DAILY: '3' });
    await s.consumeDownload(IP, 'video-only');
    await s.consumeDownload(IP, 'audio-only');
    await s.consumeDownload(IP, 'video-audio');
    for (const type of ['video-only', 'audio-only', 'video-audio'] as const) {
      await expect429(s.consumeDownload(IP, type), 'daily_total');
    }
  });

  it('applies the per-minute burst limit until the next UTC minute', async () => {
    const s = service({ RATE_LIMIT_BATCH_MINUTE: '2' });
    await s.consumeDownload(IP, 'video-only');
    await s.consumeDownload(IP, 'audio-only');
    const err = await expect429(s.consumeDownload(IP, 'video-audio'), 'per_minute');
    expect(err.extra?.reset_at).toBe('2026-12-04T14:44:00.000Z');
    expect(err.headers?.['Retry-After']).toBe('40');
    now = utc('2026-12-04T14:43:59.999Z');
    await expect429(s.consumeDownload(IP, 'video-only'), 'per_minute');
    now = utc('2026-12-04T14:44:00Z');
    await expect(s.consumeDownload(IP, 'video-only')).resolves.toBeDefined();
  });

  it('answers the headers of the most restrictive limit', async () => {
    const midnight = String(utc('2026-12-05T00:00:00Z') / 1000);
    const nextMinute = String(utc('2026-12-04T14:44:00Z') / 1000);
    const daily = service({ RATE_LIMIT_BATCH_MINUTE: '10', RATE_LIMIT_VIDEO_ONLY_DAILY: '3' });
    expect(await daily.consumeDownload(IP, 'video-only')).toEqual({
      'X-RateLimit-Limit': '3',
      'X-RateLimit-Remaining': '2',
      'X-RateLimit-Reset': midnight,
    });
    const burst = service({ RATE_LIMIT_BATCH_MINUTE: '2' });
    expect(await burst.consumeDownload('198.51.100.1', 'audio-only')).toEqual({
      'X-RateLimit-Limit': '2',
      'X-RateLimit-Remaining': '1',
      'X-RateLimit-Reset': nextMinute,
    });
    // Equal remaining: the limit that resets last holds the client longer.
    const tie = service({ RATE_LIMIT_BATCH_MINUTE: '5', RATE_LIMIT_AUDIO_ONLY_DAILY: '5' });
    expect(await tie.consumeDownload('198.51.100.2', 'audio-only')).toMatchObject({ 'X-RateLimit-Reset': midnight });
  });

  it('gives back everything a rejected request took', async () => {
    const strict = service({ RATE_LIMIT_BATCH_MINUTE: '5', RATE_LIMIT_VIDEO_ONLY_DAILY: '4', RATE_LIMIT_TOTAL_JOBS_DAILY: '2' });
    await strict.consumeDownload(IP, 'video-only');
    await strict.consumeDownload(IP, 'video-only');
    for (let i = 0; i < 5; i++) await expect429(strict.consumeDownload(IP, 'video-only'), 'daily_total');
    // The same counters seen through looser limits: only the two accepted requests were kept.
    const loose = service({ RATE_LIMIT_BATCH_MINUTE: '5', RATE_LIMIT_VIDEO_ONLY_DAILY: '4', RATE_LIMIT_TOTAL_JOBS_DAILY: '100' });
    expect(await loose.consumeDownload(IP, 'video-only')).toMatchObject({
      'X-RateLimit-Limit': '4',
      'X-RateLimit-Remaining': '1',
    });
  });

  it('refunds what a download took, once, from the windows it was taken in', async () => {
    const s = service({ RATE_LIMIT_VIDEO_ONLY_DAILY: '1' });
    await s.consumeDownload(IP, 'video-only');
    await s.refundDownload(IP, 'video-only');
    await s.consumeDownload(IP, 'video-only');
    await expect429(s.consumeDownload(IP, 'video-only'), 'daily_video-only');
    // A refund with nothing left to refund gives nothing.
    await s.refundDownload(IP, 'audio-only');
    await s.refundDownload('198.51.100.7', 'video-only');
    await expect429(s.consumeDownload(IP, 'video-only'), 'daily_video-only');

    // Taken just before UTC midnight, refunded just after: yesterday's counter gets the point.
    const other = '198.51.100.8';
    now = utc('2026-12-04T23:59:59.900Z');
    await s.consumeDownload(other, 'video-only');
    now = utc('2026-12-05T00:00:00.100Z');
    await s.refundDownload(other, 'video-only');
    await s.consumeDownload(other, 'video-only');
    await expect429(s.consumeDownload(other, 'video-only'), 'daily_video-only');
  });

  it('never limits nor counts a whitelisted client, IPv4 or IPv6, IP or CIDR', async () => {
    const env = { RATE_LIMIT_VIDEO_ONLY_DAILY: '1', RATE_LIMIT_ENDPOINT_HOURLY: '/api/v1/videos/resolutions:1' };
    const s = service({ ...env, RATE_LIMIT_WHITELIST: '10.0.0.0/8,2001:db8::/32,192.0.2.1' });
    for (const ip of ['10.1.2.3', '2001:db8::5', '192.0.2.1', '::ffff:10.9.9.9']) {
      for (let i = 0; i < 4; i++) {
        expect(await s.consumeDownload(ip, 'video-only')).toEqual({});
        expect(await s.consumeEndpoint('/api/v1/videos/resolutions', ip)).toEqual({});
      }
    }
    await expect429(s.consumeDownload('192.0.2.2', 'video-only').then(() => s.consumeDownload('192.0.2.2', 'video-only')), 'daily_video-only');
    // Without the whitelist the same client starts from zero: nothing was counted.
    const unlisted = service(env);
    expect(await unlisted.consumeDownload('10.1.2.3', 'video-only')).toMatchObject({ 'X-RateLimit-Remaining': '0' });
    expect(await unlisted.consumeEndpoint('/api/v1/videos/resolutions', '10.1.2.3')).toMatchObject({ 'X-RateLimit-Remaining': '0' });
  });

  it('limits any listed endpoint per UTC hour, with or without the trailing slash', async () => {
    const s = service({ RATE_LIMIT_ENDPOINT_HOURLY: '/api/v1/videos/resolutions:2,/api/v1/downloads/:3' });
    expect(await s.consumeEndpoint('/api/v1/videos/resolutions/', IP)).toEqual({
      'X-RateLimit-Limit': '2',
      'X-RateLimit-Remaining': '1',
      'X-RateLimit-Reset': String(utc('2026-12-04T15:00:00Z') / 1000),
    });
    await s.consumeEndpoint('/api/v1/videos/resolutions?x=1', IP);
    const err = await expect429(s.consumeEndpoint('/api/v1/videos/resolutions', IP), 'endpoint_hourly');
    expect(err.extra?.reset_at).toBe('2026-12-04T15:00:00.000Z');
    expect(await s.consumeEndpoint('/api/v1/jobs/abc', IP)).toBeNull();
    // The downloads endpoint's hourly limit is spent by consumeDownload, never twice.
    expect(await s.consumeEndpoint('/api/v1/downloads/', IP)).toBeNull();
    for (let i = 0; i < 3; i++) await s.consumeDownload(IP, 'video-only');
    await expect429(s.consumeDownload(IP, 'audio-only'), 'endpoint_hourly');
    now = utc('2026-12-04T15:00:00Z');
    await expect(s.consumeEndpoint('/api/v1/videos/resolutions', IP)).resolves.toMatchObject({ 'X-RateLimit-Remaining': '1' });
    await expect(s.consumeDownload(IP, 'audio-only')).resolves.toBeDefined();
  });

  it('starts a new day at UTC midnight on a host in Los Angeles', async () => {
    const savedTz = process.env.TZ;
    process.env.TZ = 'America/Los_Angeles';
    try {
      expect(new Date(utc('2026-12-04T08:00:00Z')).getHours()).toBe(0);
      const s = service({ RATE_LIMIT_AUDIO_ONLY_DAILY: '1' });
      now = utc('2026-12-04T07:59:00Z');
      await s.consumeDownload(IP, 'audio-only');
      now = utc('2026-12-04T08:00:01Z'); // local midnight: no reset
      const err = await expect429(s.consumeDownload(IP, 'audio-only'), 'daily_audio-only');
      expect(err.extra?.reset_at).toBe('2026-12-05T00:00:00.000Z');
      now = utc('2026-12-04T23:59:59Z');
      await expect429(s.consumeDownload(IP, 'audio-only'), 'daily_audio-only');
      now = utc('2026-12-05T00:00:00Z');
      await expect(s.consumeDownload(IP, 'audio-only')).resolves.toBeDefined();
    } finally {
      if (savedTz === undefined) delete process.env.TZ;
      else process.env.TZ = savedTz;
    }
  });

  it('accepts exactly the limit out of 50 concurrent downloads from one IP', async () => {
    for (const [env, limitType] of [
      [{ RATE_LIMIT_VIDEO_ONLY_DAILY: '3' }, 'daily_video-only'],
      [{ RATE_LIMIT_BATCH_MINUTE: '3' }, 'per_minute'],
    ] as const) {
      const s = service(env);
      const ip = `198.51.100.${Object.keys(env)[0]!.length}`;
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => s.consumeDownload(ip, 'video-only')));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
      const reasons = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as { status: number; extra: { limit_type: string } }] : []));
      expect(reasons).toHaveLength(47);
      expect(reasons.every((e) => e.status === 429 && e.extra.limit_type === limitType)).toBe(true);
    }
  });

  // Memory counters belong to one process; there is no second handle to share them through.
  if (kind === 'memory') return;

  it('shares counters through a second handle on the same store', async () => {
    const env = { RATE_LIMIT_VIDEO_ONLY_DAILY: '3' };
    const a = service(env);
    const b = service(env, await tb.reopen());
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).consumeDownload(IP, 'video-only')),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    await expect429(b.consumeDownload(IP, 'video-only'), 'daily_video-only');
    await expect429(a.consumeDownload(IP, 'video-only'), 'daily_video-only');
  });

  it('keeps the daily counts when the process restarts', async () => {
    const env = { RATE_LIMIT_VIDEO_AUDIO_DAILY: '2' };
    const before = service(env);
    await before.consumeDownload(IP, 'video-audio');
    await before.consumeDownload(IP, 'video-audio');
    before.close();
    if (tb.backend.kind === 'sqlite') tb.backend.db.close();
    if (tb.backend.kind === 'redis') tb.backend.redis.disconnect();
    const after = service(env, await tb.reopen());
    await expect429(after.consumeDownload(IP, 'video-audio'), 'daily_video-audio');
  });
});
