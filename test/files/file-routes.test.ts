import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerFileRoutes } from '../../src/files/file-routes.js';
import { newFileToken } from '../../src/files/token.js';
import { registerErrorHandling } from '../../src/http/error-handler.js';
import { createLocalStorage } from '../../src/storage/local-storage.js';
import type { ObjectStorage } from '../../src/storage/object-storage.js';
import { openDatabase } from '../../src/store/sqlite-database.js';
import { createSqliteTokenStore } from '../../src/store/sqlite-token-store.js';
import type { TokenRecord, TokenStore } from '../../src/store/token-store.js';
import { FAKE_SIGNED_URL_BASE, createRemoteStorageFake, type SignedUrlCall } from './remote-storage-fake.js';

const MINUTE_MS = 60_000;
const SIGNED_URL_TTL_SECONDS = 300;
const url = (token: string): string => `/api/v1/downloads/file/${token}`;

interface Harness {
  app: FastifyInstance;
  tokens: TokenStore;
  local: ObjectStorage;
  remote: ObjectStorage;
  signedUrlCalls: SignedUrlCall[];
  now: number;
  gcsConfigured: boolean;
}

let dirs: string[] = [];
let closers: (() => unknown)[] = [];
let h: Harness;

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

beforeEach(async () => {
  const db = openDatabase(await tempDir('file-routes-db-'));
  const tokens = createSqliteTokenStore(db);
  const local = createLocalStorage({ downloadDir: await tempDir('file-routes-dl-') });
  const remoteFake = createRemoteStorageFake(await tempDir('file-routes-remote-'));
  // forceCloseConnections: fetch may leave a spare keep-alive socket open without a request, which
  // close() would otherwise wait out for the 72 s keep-alive timeout.
  const app = Fastify({ routerOptions: { ignoreTrailingSlash: true }, forceCloseConnections: true });
  h = {
    app,
    tokens,
    local,
    remote: remoteFake.storage,
    signedUrlCalls: remoteFake.signedUrlCalls,
    now: Date.now(),
    gcsConfigured: true,
  };
  registerErrorHandling(app);
  registerFileRoutes(app, {
    tokens,
    storageFor: (kind) => (kind === 'local' ? local : h.gcsConfigured ? h.remote : null),
    signedUrlTtlSeconds: SIGNED_URL_TTL_SECONDS,
    clock: () => h.now,
  });
  await app.ready();
  closers = [() => app.close(), () => tokens.close(), () => db.close()];
});

afterEach(async () => {
  for (const close of closers) await close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  dirs = [];
});

/** Stores `data` as a finished file and issues a token for it, as a worker does. */
async function publish(
  data: Buffer,
  options: { name?: string; contentType?: string; storage?: 'local' | 'gcs'; ttlMs?: number } = {},
): Promise<TokenRecord> {
  const jobId = randomUUID();
  const name = options.name ?? 'Clip.mp4';
  const source = path.join(await tempDir('file-routes-work-'), 'out.bin');
  await writeFile(source, data);
  const storage = options.storage === 'gcs' ? h.remote : h.local;
  const put = await storage.put(`${jobId}/${name}`, source, { contentType: 'video/mp4', downloadName: name });
  const record: TokenRecord = {
    token: newFileToken(),
    jobId,
    file: {
      key: put.key,
      name,
      size: put.size,
      contentType: options.contentType ?? 'video/mp4',
      storage: put.storage,
    },
    createdAt: h.now,
    expiresAt: h.now + (options.ttlMs ?? 10 * MINUTE_MS),
  };
  await h.tokens.issue(record);
  return record;
}

function expectErrorBody(body: string, category: string): void {
  const parsed = JSON.parse(body) as Record<string, unknown>;
  expect(parsed).toMatchObject({ error: category });
  expect(typeof parsed.title).toBe('string');
  expect(typeof parsed.message).toBe('string');
  expect(typeof parsed.action).toBe('string');
}

describe('GET /api/v1/downloads/file/:token (local storage)', () => {
  it('streams the file with its download headers', async () => {
    const data = randomBytes(20_000);
    const record = await publish(data, { name: 'Café – 日本語.mp4' });

    const res = await h.app.inject({ method: 'GET', url: url(record.token) });

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
    const record = await publish(Buffer.from('hello'));
    const res = await h.app.inject({ method: 'GET', url: `${url(record.token)}/` });
    expect(res.statusCode).toBe(200);
    expect(res.payload).toBe('hello');
  });

  it('uses the content type of the token record', async () => {
    const record = await publish(Buffer.from('audio'), { name: 'a.m4a', contentType: 'audio/mp4' });
    const res = await h.app.inject({ method: 'GET', url: url(record.token) });
    expect(res.headers['content-type']).toBe('audio/mp4');
  });

  it('serves an empty file as an empty 200', async () => {
    const record = await publish(Buffer.alloc(0));
    const res = await h.app.inject({ method: 'GET', url: url(record.token) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe('0');
    expect(res.payload).toBe('');
  });

  it.each([
    ['too short', 'abc'],
    ['a bad character', `${'a'.repeat(42)}*`],
    ['path traversal', '..%2F..%2Fetc%2Fpasswd'],
  ])('refuses a malformed token (%s) with 400 invalid_request', async (_what, token) => {
    const res = await h.app.inject({ method: 'GET', url: url(token) });
    expect(res.statusCode).toBe(400);
    expectErrorBody(res.payload, 'invalid_request');
  });

  it('answers 404 file_not_found for a token never issued', async () => {
    const res = await h.app.inject({ method: 'GET', url: url(newFileToken()) });
    expect(res.statusCode).toBe(404);
    expectErrorBody(res.payload, 'file_not_found');
  });

  it('answers 410 file_expired once the token has expired', async () => {
    const record = await publish(Buffer.from('x'), { ttlMs: 10 * MINUTE_MS });
    h.now += 10 * MINUTE_MS + 1;

    const res = await h.app.inject({ method: 'GET', url: url(record.token) });

    expect(res.statusCode).toBe(410);
    expectErrorBody(res.payload, 'file_expired');
  });

  it('answers 404 after the job was deleted, not 410', async () => {
    const record = await publish(Buffer.from('x'));
    await h.tokens.revokeForJob(record.jobId);
    const res = await h.app.inject({ method: 'GET', url: url(record.token) });
    expect(res.statusCode).toBe(404);
    expectErrorBody(res.payload, 'file_not_found');
  });

  it('answers 404 file_not_found when the file is gone, without download headers', async () => {
    const record = await publish(Buffer.from('x'));
    await h.local.delete(record.file.key);

    const res = await h.app.inject({ method: 'GET', url: url(record.token) });

    expect(res.statusCode).toBe(404);
    expectErrorBody(res.payload, 'file_not_found');
    expect(res.headers['content-disposition']).toBeUndefined();
  });

  it('refuses other methods with 405', async () => {
    const record = await publish(Buffer.from('x'));
    const res = await h.app.inject({ method: 'POST', url: url(record.token) });
    expect(res.statusCode).toBe(405);
  });
});

describe('ranges and conditional requests', () => {
  const data = randomBytes(10_000);
  let record: TokenRecord;
  let etag: string;
  let lastModified: string;

  beforeEach(async () => {
    record = await publish(data);
    const first = await h.app.inject({ method: 'HEAD', url: url(record.token) });
    etag = String(first.headers['etag']);
    lastModified = String(first.headers['last-modified']);
  });

  const get = (headers: Record<string, string>) => h.app.inject({ method: 'GET', url: url(record.token), headers });

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
    const other = await publish(randomBytes(10_000));
    const res = await h.app.inject({ method: 'HEAD', url: url(other.token) });
    expect(res.headers['etag']).not.toBe(etag);
  });

  it('answers HEAD with the GET headers and no body', async () => {
    const headRes = await h.app.inject({ method: 'HEAD', url: url(record.token) });
    const getRes = await get({});
    expect(headRes.statusCode).toBe(200);
    expect(headRes.payload).toBe('');
    for (const name of ['content-type', 'content-length', 'accept-ranges', 'etag', 'last-modified', 'content-disposition']) {
      expect(headRes.headers[name], name).toBe(getRes.headers[name]);
    }
    const ranged = await h.app.inject({ method: 'HEAD', url: url(record.token), headers: { range: 'bytes=0-9' } });
    expect(ranged.statusCode).toBe(206);
    expect(ranged.headers['content-length']).toBe('10');
  });
});

describe('files kept in remote storage', () => {
  it('redirect with 302 to a signed URL valid for the signed-URL TTL', async () => {
    const record = await publish(Buffer.from('remote bytes'), { storage: 'gcs', name: 'Vidéo.mp4' });

    const res = await h.app.inject({ method: 'GET', url: url(record.token) });

    expect(res.statusCode).toBe(302);
    expect(res.headers['location']?.startsWith(FAKE_SIGNED_URL_BASE)).toBe(true);
    expect(h.signedUrlCalls).toEqual([
      {
        key: record.file.key,
        expiresAt: h.now + SIGNED_URL_TTL_SECONDS * 1000,
        meta: { contentType: 'video/mp4', downloadName: 'Vidéo.mp4' },
      },
    ]);
    expect(new URL(String(res.headers['location'])).searchParams.get('expires')).toBe(
      String(h.now + SIGNED_URL_TTL_SECONDS * 1000),
    );
  });

  it('never signs past the token expiry', async () => {
    const record = await publish(Buffer.from('remote'), { storage: 'gcs', ttlMs: 10 * MINUTE_MS });
    h.now += 9 * MINUTE_MS;

    const res = await h.app.inject({ method: 'GET', url: url(record.token) });

    expect(res.statusCode).toBe(302);
    expect(h.signedUrlCalls.at(-1)?.expiresAt).toBe(record.expiresAt);
  });

  it('answers 404 when the remote object is gone, and 410 once expired', async () => {
    const gone = await publish(Buffer.from('remote'), { storage: 'gcs' });
    await h.remote.delete(gone.file.key);
    expect((await h.app.inject({ method: 'GET', url: url(gone.token) })).statusCode).toBe(404);

    const expired = await publish(Buffer.from('remote'), { storage: 'gcs', ttlMs: MINUTE_MS });
    h.now += 2 * MINUTE_MS;
    expect((await h.app.inject({ method: 'GET', url: url(expired.token) })).statusCode).toBe(410);
    expect(h.signedUrlCalls).toEqual([]);
  });

  it('answers 503 system_error when this process has no remote storage configured', async () => {
    const record = await publish(Buffer.from('remote'), { storage: 'gcs' });
    h.gcsConfigured = false;

    const res = await h.app.inject({ method: 'GET', url: url(record.token) });

    expect(res.statusCode).toBe(503);
    expectErrorBody(res.payload, 'system_error');
  });
});

describe('over a real connection', () => {
  const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

  it('streams a multi-megabyte file intact, whole and by range', async () => {
    const data = randomBytes(24 * 1024 * 1024 + 17);
    const record = await publish(data, { name: 'large.mp4' });
    const base = await h.app.listen({ host: '127.0.0.1', port: 0 });

    const whole = await fetch(`${base}${url(record.token)}`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-length')).toBe(String(data.length));
    expect(sha256(Buffer.from(await whole.arrayBuffer()))).toBe(sha256(data));

    const start = 5 * 1024 * 1024 + 3;
    const part = await fetch(`${base}${url(record.token)}`, { headers: { range: `bytes=${start}-` } });
    expect(part.status).toBe(206);
    expect(sha256(Buffer.from(await part.arrayBuffer()))).toBe(sha256(data.subarray(start)));
  });

  it('survives a client that hangs up mid-download', async () => {
    const data = randomBytes(16 * 1024 * 1024);
    const record = await publish(data, { name: 'large.mp4' });
    const base = await h.app.listen({ host: '127.0.0.1', port: 0 });

    const controller = new AbortController();
    const res = await fetch(`${base}${url(record.token)}`, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.closed.catch(() => undefined);

    const again = await fetch(`${base}${url(record.token)}`, { headers: { range: 'bytes=0-3' } });
    expect(again.status).toBe(206);
    expect(Buffer.from(await again.arrayBuffer()).equals(data.subarray(0, 4))).toBe(true);
  });
});
