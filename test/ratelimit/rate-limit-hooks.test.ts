import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createRateLimitService, type RateLimitService } from '../../src/ratelimit/rate-limit-service.js';
import { createFaultyStore } from './faulty-rate-limit-store.js';
import { buildHttpTestApp } from './http-test-app.js';
import { limitConfig, silent } from './rate-limit-test-env.js';

const RESOLUTIONS = '/api/v1/videos/resolutions';
const hourly = { RATE_LIMIT_ENDPOINT_HOURLY: `${RESOLUTIONS}:2,/api/v1/jobs:1` };

describe('rate-limit hooks over HTTP', () => {
  let app: FastifyInstance | undefined;
  let service: RateLimitService | undefined;
  afterEach(async () => {
    await app?.close();
    service?.close();
    app = undefined;
  });

  async function start(env: Record<string, string> = hourly, extra: Parameters<typeof buildHttpTestApp>[0] = {}) {
    service = createRateLimitService({ config: limitConfig(env), backend: { kind: 'memory' }, logger: silent });
    app = await buildHttpTestApp({ rateLimits: service, ...extra });
    return app;
  }

  const post = (a: FastifyInstance, url: string, payload: unknown, headers: Record<string, string> = {}) =>
    a.inject({ method: 'POST', url, payload: payload as object, headers: { 'content-type': 'application/json', ...headers } });

  it('sets the headers on a listed endpoint, shared with and without the trailing slash, then 429s', async () => {
    const a = await start();
    const first = await post(a, RESOLUTIONS, { url: 'https://youtu.be/x' });
    expect(first.statusCode).toBe(200);
    expect(first.headers['x-ratelimit-limit']).toBe('2');
    expect(first.headers['x-ratelimit-remaining']).toBe('1');
    expect(Number(first.headers['x-ratelimit-reset'])).toBeGreaterThan(Date.now() / 1000);
    const second = await post(a, `${RESOLUTIONS}/`, { url: 'https://youtu.be/x' });
    expect(second.headers['x-ratelimit-remaining']).toBe('0');

    const third = await post(a, RESOLUTIONS, { url: 'https://youtu.be/x' });
    expect(third.statusCode).toBe(429);
    expect(third.headers['content-type']).toMatch(/application\/json/);
    const body = third.json();
    expect(body).toEqual({
      error: 'Rate limit exceeded',
      title: 'Too Many Requests',
      message: "You've made too many requests in a short time.",
      action: 'Please wait a moment before trying again.',
      limit_type: 'endpoint_hourly',
      reset_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:00:00\.000Z$/),
    });
    expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(third.headers['retry-after'])).toBeLessThanOrEqual(3600);
    expect(third.headers['x-ratelimit-remaining']).toBe('0');
  });

  it('spends nothing on a request its schema refuses', async () => {
    const a = await start();
    for (let i = 0; i < 5; i++) {
      const bad = await post(a, RESOLUTIONS, { nope: true });
      expect(bad.statusCode).toBe(400);
      expect(bad.headers['x-ratelimit-limit']).toBeUndefined();
    }
    const good = await post(a, RESOLUTIONS, { url: 'https://youtu.be/x' });
    expect(good.headers['x-ratelimit-remaining']).toBe('1');
  });

  it('spends no download quota on an invalid format_id', async () => {
    const a = await start({ RATE_LIMIT_VIDEO_ONLY_DAILY: '1' });
    for (let i = 0; i < 3; i++) {
      const bad = await post(a, '/api/v1/downloads/', { url: 'https://youtu.be/x', format_id: '137;rm -rf' });
      expect(bad.statusCode).toBe(400);
    }
    const ok = await post(a, '/api/v1/downloads/', { url: 'https://youtu.be/x', format_id: '137' });
    expect(ok.statusCode).toBe(202);
    expect(ok.headers['x-ratelimit-remaining']).toBe('0');
    const limited = await post(a, '/api/v1/downloads', { url: 'https://youtu.be/x', format_id: '137' });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().limit_type).toBe('daily_video-only');
  });

  it('leaves unlisted endpoints and unknown routes alone', async () => {
    const a = await start();
    const health = await a.inject({ url: '/health' });
    expect(health.headers['x-ratelimit-limit']).toBeUndefined();
    for (let i = 0; i < 3; i++) {
      const missing = await a.inject({ url: `${RESOLUTIONS}/nothing-here` });
      expect(missing.statusCode).toBe(404);
      const wrongMethod = await a.inject({ url: RESOLUTIONS });
      expect(wrongMethod.statusCode).toBe(405);
    }
    const first = await post(a, RESOLUTIONS, { url: 'https://youtu.be/x' });
    expect(first.headers['x-ratelimit-remaining']).toBe('1');
  });

  it('matches only the exact listed path', async () => {
    const a = await start();
    const job = await a.inject({ url: '/api/v1/jobs/abc' });
    expect(job.statusCode).toBe(200);
    expect(job.headers['x-ratelimit-limit']).toBeUndefined();
  });

  it('cannot be dodged by forging X-Forwarded-For from an untrusted address', async () => {
    const a = await start();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await post(a, RESOLUTIONS, { url: 'https://youtu.be/x' }, { 'x-forwarded-for': `198.51.100.${i}` });
      statuses.push(res.statusCode);
    }
    // inject's default peer is 127.0.0.1 (trusted); from a LAN peer the header is ignored.
    const lan = [];
    for (let i = 0; i < 3; i++) {
      const res = await a.inject({
        method: 'POST',
        url: RESOLUTIONS,
        remoteAddress: '192.168.1.5',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `198.51.100.${100 + i}` },
        payload: { url: 'https://youtu.be/x' },
      });
      lan.push(res.statusCode);
    }
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(lan).toEqual([200, 200, 429]);
  });

  it('answers a malformed X-Forwarded-For without a 5xx, limited as the forwarding hop', async () => {
    const a = await start();
    const codes = [];
    for (const xff of ['not-an-ip', '1.2.3.4:5678', '[::1]', 'x'.repeat(10_240), 'a, b, c']) {
      const res = await post(a, RESOLUTIONS, { url: 'https://youtu.be/x' }, { 'x-forwarded-for': xff });
      codes.push(res.statusCode);
    }
    // not-an-ip, garbage and "a, b, c" all count as the loopback peer: its limit of 2 is hit.
    expect(codes).toEqual([200, 200, 200, 200, 429]);
  });

  it('passes requests while the store fails: never a 429 nor a 5xx', async () => {
    const faulty = createFaultyStore('throw');
    service = createRateLimitService({ config: limitConfig(hourly), backend: { kind: 'store', store: faulty.store }, logger: silent });
    app = await buildHttpTestApp({ rateLimits: service });
    for (let i = 0; i < 10; i++) {
      const res = await post(app, RESOLUTIONS, { url: 'https://youtu.be/x' });
      expect(res.statusCode).toBe(200);
    }
    expect(service.stats().failOpen).toBe(10);
  });

  it('registers nothing when limiting is off', async () => {
    const a = await start({ ...hourly, NODE_ENV: 'development' });
    for (let i = 0; i < 4; i++) {
      const res = await post(a, RESOLUTIONS, { url: 'https://youtu.be/x' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
    }
  });

  it('lets a browser read the rate-limit headers through CORS', async () => {
    const a = await start();
    const res = await post(a, RESOLUTIONS, { url: 'https://youtu.be/x' }, { origin: 'https://app.example' });
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const exposed = String(res.headers['access-control-expose-headers']).split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Retry-After']));
  });
});
