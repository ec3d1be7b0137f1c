import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createRateLimitService } from '../../src/ratelimit/rate-limit-service.js';
import { freePort, uniquePrefix } from '../redis/redis-test-env.js';
import { createFaultyStore } from './faulty-rate-limit-store.js';
import { capturedLogger, expect429, limitConfig, silent } from './rate-limit-test-env.js';

const IP = '203.0.113.9';
const strict = { RATE_LIMIT_VIDEO_ONLY_DAILY: '1', RATE_LIMIT_ENDPOINT_HOURLY: '/api/v1/videos/resolutions:1' };

describe('rate limits fail open', () => {
  it('never refuses a request while the store throws, and counts every pass', async () => {
    const faulty = createFaultyStore('throw');
    const s = createRateLimitService({ config: limitConfig(strict), backend: { kind: 'store', store: faulty.store }, logger: silent });
    for (let i = 0; i < 20; i++) {
      expect(await s.consumeDownload(IP, 'video-only')).toEqual({});
      expect(await s.consumeEndpoint('/api/v1/videos/resolutions', IP)).toEqual({});
    }
    expect(s.stats().failOpen).toBe(40);
    expect(faulty.takes).toBe(40);
  });

  it('limits again once the store recovers', async () => {
    const faulty = createFaultyStore('throw');
    const s = createRateLimitService({ config: limitConfig(strict), backend: { kind: 'store', store: faulty.store }, logger: silent });
    await s.consumeDownload(IP, 'video-only');
    faulty.mode = 'ok';
    await s.consumeDownload(IP, 'video-only');
    await expect429(s.consumeDownload(IP, 'video-only'), 'daily_video-only');
    expect(s.stats().failOpen).toBe(1);
  });

  it('passes a request whose store stops answering, after the store timeout', async () => {
    const faulty = createFaultyStore('hang');
    const s = createRateLimitService({
      config: limitConfig(strict),
      backend: { kind: 'store', store: faulty.store },
      logger: silent,
      storeTimeoutMs: 100,
    });
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 10 }, () => s.consumeDownload(IP, 'video-only')));
    expect(results).toEqual(Array.from({ length: 10 }, () => ({})));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(s.stats().failOpen).toBe(10);
  });

  it('passes a request whose store fails halfway through its limits', async () => {
    const faulty = createFaultyStore('throw');
    faulty.failFromTake = 2;
    const s = createRateLimitService({ config: limitConfig(strict), backend: { kind: 'store', store: faulty.store }, logger: silent });
    expect(await s.consumeDownload(IP, 'video-only')).toEqual({});
    expect(await s.consumeDownload(IP, 'video-only')).toEqual({});
    expect(s.stats().failOpen).toBe(2);
  });

  it('logs one warning per interval, with the count, however many requests fail', async () => {
    let now = Date.parse('2026-12-04T10:00:00Z');
    const { logger, lines } = capturedLogger();
    const faulty = createFaultyStore('throw');
    const s = createRateLimitService({
      config: limitConfig(strict),
      backend: { kind: 'store', store: faulty.store },
      logger,
      clock: () => now,
    });
    for (let i = 0; i < 50; i++) await s.consumeDownload(IP, 'video-only');
    const warnings = () => lines.filter((l) => l.level === 40 && /rate-limit store failed/.test(l.msg));
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ failOpen: 1, err: { message: expect.stringContaining('ECONNRESET') } });
    now += 59_000;
    await s.consumeDownload(IP, 'video-only');
    expect(warnings()).toHaveLength(1);
    now += 2_000;
    await s.consumeDownload(IP, 'video-only');
    expect(warnings()).toHaveLength(2);
    expect(warnings()[1]).toMatchObject({ failOpen: 52, suppressedSinceLastWarning: 50 });
  });

  it('never refuses a request while Redis is down', async () => {
    const port = await freePort();
    const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    redis.on('error', () => {});
    try {
      const s = createRateLimitService({
        config: limitConfig(strict),
        backend: { kind: 'redis', redis, prefix: uniquePrefix() },
        logger: silent,
      });
      const started = Date.now();
      for (let i = 0; i < 5; i++) {
        expect(await s.consumeDownload(IP, 'video-only')).toEqual({});
        expect(await s.consumeEndpoint('/api/v1/videos/resolutions', IP)).toEqual({});
      }
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(s.stats().failOpen).toBe(10);
    } finally {
      redis.disconnect();
    }
  });
});

describe('rate limits when off', () => {
  it.each([
    [{ NODE_ENV: 'development', RATE_LIMIT_ENABLED: 'true' }],
    [{ NODE_ENV: 'test', RATE_LIMIT_ENABLED: 'true' }],
    [{ NODE_ENV: 'production', RATE_LIMIT_ENABLED: 'false' }],
  ])('are no-ops that never touch the store with %j', async (env) => {
    const faulty = createFaultyStore('ok');
    const s = createRateLimitService({ config: limitConfig({ ...strict, ...env }), backend: { kind: 'store', store: faulty.store }, logger: silent });
    expect(s.active).toBe(false);
    for (let i = 0; i < 5; i++) {
      expect(await s.consumeDownload(IP, 'video-only')).toEqual({});
      expect(await s.consumeEndpoint('/api/v1/videos/resolutions', IP)).toBeNull();
      await s.refundDownload(IP, 'video-only');
    }
    expect(faulty.takes + faulty.giveBacks).toBe(0);
  });

  it('are on with FLASK_ENV=production, the original alias', async () => {
    const faulty = createFaultyStore('ok');
    const config = limitConfig({ ...strict, NODE_ENV: '', FLASK_ENV: 'production' });
    const s = createRateLimitService({ config, backend: { kind: 'store', store: faulty.store }, logger: silent });
    expect(s.active).toBe(true);
    await s.consumeDownload(IP, 'video-only');
    await expect429(s.consumeDownload(IP, 'video-only'), 'daily_video-only');
  });
});

describe('activeJobsError', () => {
  it('is the 429 of MAX_ACTIVE_JOBS_PER_CLIENT with limit_type active_jobs', () => {
    const now = Date.parse('2026-12-04T10:00:00Z');
    const s = createRateLimitService({ config: limitConfig(), backend: { kind: 'memory' }, logger: silent, clock: () => now });
    const err = s.activeJobsError();
    expect(err).toMatchObject({ status: 429, category: 'rate_limited', extra: { limit_type: 'active_jobs', reset_at: '2026-12-04T10:00:30.000Z' } });
    expect(err.headers?.['Retry-After']).toBe('30');
    const later = s.activeJobsError(now + 90_500);
    expect(later.headers?.['Retry-After']).toBe('91');
    expect(later.extra?.reset_at).toBe('2026-12-04T10:01:30.500Z');
  });
});
