import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { newFileToken } from '../../src/files/token.js';
import type { TokenRecord } from '../../src/store/token-store.js';
import { MINUTE_MS, expectErrorBody, fileUrl, useFileRouteHarness } from './file-route-harness.js';

const h = useFileRouteHarness();

describe('GET /api/v1/downloads/file/:token (local storage)', () => {
  it('streams the file with its download headers', async () => {
    const data = randomBytes(20_000);
    const record = await h.publish(data, { name: 'Café – 日本語.mp4' });

    const res = await h.app.inject({ method: 'GET', url: fileUrl(record.token) });

    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(data)).toBe(true);
    expect(res.headers['content-type']).toBe('video/mp4');
    expect(res.headers['content-length']).toBe(String(data.length));
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['etag']).toMatch(/^"[^"]+"$/);
    expect(new Date(String(res.headers['last-modified'])).getTime()).toBeGreaterThan(0);
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(res.headers['content-disposition']).toBe(
      `attachment; filename="Cafe _ _.mp4"; filename*=UTF-8''Caf%C3%A9%20%E2%80%93%20%E6%97%A5%E6%9C%AC%E8%AA%9E.mp4`,
    );
  });

  it('answers with a trailing slash too', async () => {
    const record = await h.publish(Buffer.from('hello'));
    const res = await h.app.inject({ method: 'GET', url: `${fileUrl(record.token)}/` });
    expect(res.statusCode).toBe(200);
    expect(res.payload).toBe('hello');
  });

  it('uses the content type of the token record', async () => {
    const record = await h.publish(Buffer.from('audio'), { name: 'a.m4a', contentType: 'audio/mp4' });
    const res = await h.app.inject({ method: 'GET', url: fileUrl(record.token) });
    expect(res.headers['content-type']).toBe('audio/mp4');
  });

  it('falls back to application/octet-stream for a content type unfit for a header', async () => {
    const record = await h.publish(Buffer.from('x'), { contentType: 'video/mp4\r\nX-Injected: 1' });
    const res = await h.app.inject({ method: 'GET', url: fileUrl(record.token) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['x-injected']).toBeUndefined();
  });

  it('keeps content type parameters', async () => {
    const record = await h.publish(Buffer.from('x'), { contentType: 'video/webm; codecs="vp9,opus"' });
    const res = await h.app.inject({ method: 'GET', url: fileUrl(record.token) });
    expect(res.headers['content-type']).toBe('video/webm; codecs="vp9,opus"');
  });

  it('serves an empty file as an empty 200', async () => {
    const record = await h.publish(Buffer.alloc(0));
    const res = await h.app.inject({ method: 'GET', url: fileUrl(record.token) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe('0');
    expect(res.payload).toBe('');
  });

  it.each([
    ['too short', 'abc'],
    ['a bad character', `${'a'.repeat(42)}*`],
    ['path traversal', '..%2F..%2Fetc%2Fpasswd'],
  ])('refuses a malformed token (%s) with 400 invalid_request', async (_what, token) => {
    const res = await h.app.inject({ method: 'GET', url: fileUrl(token) });
    expect(res.statusCode).toBe(400);
    expectErrorBody(res.payload, 'invalid_request');
  });

  it('answers 404 file_not_found for a token never issued', async () => {
    const res = await h.app.inject({ method: 'GET', url: fileUrl(newFileToken()) });
    expect(res.statusCode).toBe(404);
    expectErrorBody(res.payload, 'file_not_found');
  });

  it('answers 410 file_expired once the token has expired', async () => {
    const record = await h.publish(Buffer.from('x'), { ttlMs: 10 * MINUTE_MS });
    h.now += 10 * MINUTE_MS + 1;

    const res = await h.app.inject({ method: 'GET', url: fileUrl(record.token) });

    expect(res.statusCode).toBe(410);
    expectErrorBody(res.payload, 'file_expired');
    expect(JSON.parse(res.payload).message).toBe(
      'The download link has expired. Files are available for 15 minutes after download.',
    );
  });

  it('answers 404 after the job was deleted, not 410', async () => {
    const record = await h.publish(Buffer.from('x'));
    await h.tokens.revokeForJob(record.jobId);
    const res = await h.app.inject({ method: 'GET', url: fileUrl(record.token) });
    expect(res.statusCode).toBe(404);
    expectErrorBody(res.payload, 'file_not_found');
  });

  it('answers 404 file_not_found when the file is gone, without download headers', async () => {
    const record = await h.publish(Buffer.from('x'));
    await h.local.delete(record.file.key);

    const res = await h.app.inject({ method: 'GET', url: fileUrl(record.token) });

    expect(res.statusCode).toBe(404);
    expectErrorBody(res.payload, 'file_not_found');
    expect(res.headers['content-disposition']).toBeUndefined();
  });

  it('refuses other methods with 405', async () => {
    const record = await h.publish(Buffer.from('x'));
    const res = await h.app.inject({ method: 'POST', url: fileUrl(record.token) });
    expect(res.statusCode).toBe(405);
  });
});

describe('ranges and conditional requests', () => {
  const data = randomBytes(10_000);
  let record: TokenRecord;
  let etag: string;
  let lastModified: string;

  beforeEach(async () => {
    record = await h.publish(data);
    const first = await h.app.inject({ method: 'HEAD', url: fileUrl(record.token) });
    etag = String(first.headers['etag']);
    lastModified = String(first.headers['last-modified']);
  });

  const get = (headers: Record<string, string>) => h.app.inject({ method: 'GET', url: fileUrl(record.token), headers });

  it.each([
    ['bytes=0-99', 0, 99],
    ['bytes=9000-', 9000, 9999],
    ['bytes=-250', 9750, 9999],
    ['bytes=9990-20000', 9990, 9999],
  ])('%s gives 206 with exactly those bytes', async (range, start, end) => {
    const res = await get({ range });

    expect(res.statusCode).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/${data.length}`);
    expect(res.headers['content-length']).toBe(String(end - start + 1));
    expect(res.rawPayload.equals(data.subarray(start, end + 1))).toBe(true);
  });

  it.each(['bytes=10000-', 'bytes=-0', 'bytes=50-10', 'bytes=abc'])(
    '%s gives 416 with the size and the error body',
    async (range) => {
      const res = await get({ range });

      expect(res.statusCode).toBe(416);
      expect(res.headers['content-range']).toBe(`bytes */${data.length}`);
      expect(res.headers['content-disposition']).toBeUndefined();
      expectErrorBody(res.payload, 'invalid_request');
    },
  );

  it('answers several ranges with the whole file', async () => {
    const res = await get({ range: 'bytes=0-9,100-109' });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(data)).toBe(true);
  });

  it('answers 304 to a matching If-None-Match, with validators and no body', async () => {
    const res = await get({ 'if-none-match': etag });

    expect(res.statusCode).toBe(304);
    expect(res.payload).toBe('');
    expect(res.headers['etag']).toBe(etag);
    expect(res.headers['content-disposition']).toBeUndefined();
  });

  it('answers 304 to If-Modified-Since at or after Last-Modified', async () => {
    expect((await get({ 'if-modified-since': lastModified })).statusCode).toBe(304);
    const earlier = new Date(new Date(lastModified).getTime() - 1000).toUTCString();
    expect((await get({ 'if-modified-since': earlier })).statusCode).toBe(200);
  });

  it('sends the file when If-None-Match does not match', async () => {
    const res = await get({ 'if-none-match': '"something-else"', 'if-modified-since': lastModified });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(data)).toBe(true);
  });

  it('honours If-Range: the range for the current ETag, the whole file for a stale one', async () => {
    const current = await get({ range: 'bytes=0-9', 'if-range': etag });
    expect(current.statusCode).toBe(206);
    expect(current.rawPayload.equals(data.subarray(0, 10))).toBe(true);

    const stale = await get({ range: 'bytes=0-9', 'if-range': '"stale"' });
    expect(stale.statusCode).toBe(200);
    expect(stale.rawPayload.equals(data)).toBe(true);

    expect((await get({ range: 'bytes=0-9', 'if-range': lastModified })).statusCode).toBe(206);
  });

  it('gives a different ETag to a different file', async () => {
    const other = await h.publish(randomBytes(10_000));
    const res = await h.app.inject({ method: 'HEAD', url: fileUrl(other.token) });
    expect(res.headers['etag']).not.toBe(etag);
  });

  it('answers HEAD with the GET headers and no body', async () => {
    const headRes = await h.app.inject({ method: 'HEAD', url: fileUrl(record.token) });
    const getRes = await get({});
    expect(headRes.statusCode).toBe(200);
    expect(headRes.payload).toBe('');
    for (const name of ['content-type', 'content-length', 'accept-ranges', 'etag', 'last-modified', 'content-disposition']) {
      expect(headRes.headers[name], name).toBe(getRes.headers[name]);
    }
    const ranged = await h.app.inject({ method: 'HEAD', url: fileUrl(record.token), headers: { range: 'bytes=0-9' } });
    expect(ranged.statusCode).toBe(206);
    expect(ranged.headers['content-length']).toBe('10');
  });
});
