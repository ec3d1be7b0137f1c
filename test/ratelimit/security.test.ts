import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { HTTP_SERVER_LIMITS } from '../../src/http/security.js';
import { buildHttpTestApp } from './http-test-app.js';

describe('HTTP hardening', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('sends nosniff and forbids framing on success, error and not-found responses', async () => {
    app = await buildHttpTestApp();
    const responses = [
      await app.inject({ url: '/health' }),
      await app.inject({ url: '/api/v1/nothing' }),
      await app.inject({ method: 'POST', url: '/api/v1/videos/resolutions', payload: {} }),
      await app.inject({ url: '/api/v1/docs' }),
    ];
    expect(responses.map((r) => r.statusCode)).toEqual([200, 404, 400, 200]);
    for (const res of responses) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['content-security-policy']).toBe("frame-ancestors 'none'");
    }
  });

  it('answers a body over 16 KiB with a 413 error body', async () => {
    app = await buildHttpTestApp();
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/videos/resolutions',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ url: 'x'.repeat(16 * 1024) }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: 'invalid_request', title: 'Invalid Request' });
    const fits = await app.inject({
      method: 'POST',
      url: '/api/v1/videos/resolutions',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ url: 'x'.repeat(16 * 1024 - 20) }),
    });
    expect(fits.statusCode).toBe(200);
  });

  it('allows any origin without credentials by default', async () => {
    app = await buildHttpTestApp();
    const res = await app.inject({ url: '/health', headers: { origin: 'https://anywhere.example' } });
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('allows only the listed CORS_ORIGINS, preflight included', async () => {
    app = await buildHttpTestApp({ corsOrigins: ['https://app.example'] });
    const allowed = await app.inject({ url: '/health', headers: { origin: 'https://app.example' } });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example');
    const other = await app.inject({ url: '/health', headers: { origin: 'https://evil.example' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();

    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/api/v1/downloads/',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-api-key',
      },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(String(preflight.headers['access-control-allow-methods'])).toContain('POST');
    expect(String(preflight.headers['access-control-allow-headers'])).toContain('x-api-key');
  });

  it('names an allowed origin with Vary: Origin, and answers any preflight with the asked headers', async () => {
    app = await buildHttpTestApp({ corsOrigins: ['https://app.example'] });
    const allowed = await app.inject({ url: '/health', headers: { origin: 'https://app.example' } });
    expect(allowed.headers.vary).toContain('Origin');
    expect(String(allowed.headers['access-control-expose-headers'])).toContain('X-RateLimit-Remaining');
    const other = await app.inject({ url: '/health', headers: { origin: 'https://evil.example' } });
    expect(other.headers.vary).toContain('Origin');
    expect(other.headers['access-control-expose-headers']).toBeUndefined();

    await app.close();
    app = await buildHttpTestApp();
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/api/v1/jobs/some-id',
      headers: { origin: 'https://anywhere.example', 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers).toMatchObject({
      'access-control-allow-origin': '*',
      'access-control-allow-headers': 'authorization',
      'access-control-max-age': '600',
    });
    expect(String(preflight.headers['access-control-allow-methods'])).toContain('DELETE');
    expect(preflight.headers['x-content-type-options']).toBe('nosniff');
  });

  it('answers an OPTIONS request that is no preflight like any other unknown method: a JSON error', async () => {
    app = await buildHttpTestApp();
    const known = await app.inject({ method: 'OPTIONS', url: '/health' });
    expect(known.statusCode).toBe(405);
    expect(known.json()).toMatchObject({ error: 'invalid_request' });
    const unknown = await app.inject({ method: 'OPTIONS', url: '/nowhere', headers: { origin: 'https://a.example' } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('cuts off a slow-loris client that trickles its headers', async () => {
    app = await buildHttpTestApp();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as net.AddressInfo;
    const socket = net.connect(port, '127.0.0.1');
    const started = Date.now();
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // One header byte-line every 500 ms keeps the socket busy, so only the headers deadline stops it.
    const drip = setInterval(() => socket.writable && socket.write(`X-Drip-${Date.now()}: 1\r\n`), 500);
    try {
      await new Promise((resolve) => socket.once('close', resolve));
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
    const elapsed = Date.now() - started;
    const { headersTimeout, connectionsCheckingInterval } = HTTP_SERVER_LIMITS.http;
    expect(elapsed).toBeGreaterThanOrEqual(headersTimeout - 500);
    expect(elapsed).toBeLessThan(headersTimeout + connectionsCheckingInterval + 2_000);
    expect(received).toMatch(/^HTTP\/1\.1 408/);
  }, 30_000);

  it('still serves a normal request on the same limits', async () => {
    app = await buildHttpTestApp();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as net.AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });
});
