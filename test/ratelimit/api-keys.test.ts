import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiKeyMatcher, offeredApiKeys } from '../../src/http/api-keys.js';
import { buildHttpTestApp } from './http-test-app.js';

const KEYS = ['k-one-0123456789', 'k-two-abcdefghij'];

describe('API keys', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('leaves the API open when API_KEYS is unset', async () => {
    app = await buildHttpTestApp();
    expect((await app.inject({ url: '/api/v1/jobs/abc' })).statusCode).toBe(200);
  });

  it('answers 401 unauthorized without a key or with a wrong one', async () => {
    app = await buildHttpTestApp({ apiKeys: KEYS });
    for (const headers of [
      {},
      { 'x-api-key': 'wrong' },
      { 'x-api-key': `${KEYS[0]}x` },
      { authorization: 'Bearer wrong' },
      { authorization: `Basic ${KEYS[0]}` },
      { 'x-api-key': '' },
    ]) {
      const res = await app.inject({ url: '/api/v1/jobs/abc', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({
        error: 'unauthorized',
        title: 'Unauthorized',
        message: 'A valid API key is required.',
        action: 'Provide your API key in the X-API-Key header.',
      });
    }
    const post = await app.inject({ method: 'POST', url: '/api/v1/downloads/', payload: { url: 'x', format_id: '1' } });
    expect(post.statusCode).toBe(401);
  });

  it('accepts any configured key, as X-API-Key or Bearer', async () => {
    app = await buildHttpTestApp({ apiKeys: KEYS });
    expect((await app.inject({ url: '/api/v1/jobs/abc', headers: { 'x-api-key': KEYS[0]! } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/v1/jobs/abc', headers: { authorization: `Bearer ${KEYS[1]}` } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/v1/jobs/abc', headers: { authorization: `bearer ${KEYS[1]}` } })).statusCode).toBe(200);
  });

  it('keeps health, docs and the CORS preflight open', async () => {
    app = await buildHttpTestApp({ apiKeys: KEYS, corsOrigins: ['https://app.example'] });
    for (const url of ['/health', '/api/v1/system/health', '/api/v1/system/health/', '/api/v1/docs', '/api/v1/openapi.json']) {
      expect((await app.inject({ url })).statusCode, url).toBe(200);
    }
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/api/v1/downloads/',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.statusCode).toBe(204);
  });

  it('does not open a protected route through a look-alike path', async () => {
    app = await buildHttpTestApp({ apiKeys: KEYS });
    for (const url of [
      '/api/v1/system/health/../../jobs/abc',
      '/api/v1/docs/../jobs/abc',
      '/api/v1/docs/%2e%2e/jobs/abc',
      '/api/v1/jobs/abc?/api/v1/docs',
    ]) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(401);
    }
    // No such route: a 404 whatever the key, never the docs' openness.
    expect((await app.inject({ url: '/api/v1/docsx' })).statusCode).toBe(404);
  });

  it('decides by the matched route, so a percent-encoded path cannot skip the key', async () => {
    app = await buildHttpTestApp({ apiKeys: KEYS });
    for (const [method, url] of [
      ['GET', '/%61pi/v1/jobs/abc'],
      ['POST', '/%61pi/v1/videos/resolutions'],
      ['GET', '/api/%761/jobs/abc'],
    ] as const) {
      const res = await app.inject({ method, url, payload: method === 'POST' ? {} : undefined });
      expect(res.statusCode, `${method} ${url}`).toBe(401);
    }
  });

  it('reads the offered keys and compares them all', () => {
    expect(offeredApiKeys({ 'x-api-key': ' a ', authorization: 'Bearer b' })).toEqual(['a', 'b']);
    expect(offeredApiKeys({ authorization: 'Token c' })).toEqual([]);
    const matches = createApiKeyMatcher(KEYS);
    expect(matches([KEYS[1]!])).toBe(true);
    expect(matches(['nope', KEYS[0]!])).toBe(true);
    expect(matches(['nope'])).toBe(false);
    expect(matches([])).toBe(false);
  });
});
