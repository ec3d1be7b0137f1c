import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MINUTE_MS, SIGNED_URL_TTL_SECONDS, expectErrorBody, fileUrl, useFileRouteHarness } from './file-route-harness.js';
import { FAKE_SIGNED_URL_BASE } from './remote-storage-fake.js';

const h = useFileRouteHarness();

describe('files kept in remote storage', () => {
  it('redirect with 302 to a signed URL valid for the signed-URL TTL', async () => {
    const record = await h.publish(Buffer.from('remote bytes'), { storage: 'gcs', name: 'Vidéo.mp4' });

    const res = await h.app.inject({ method: 'GET', url: fileUrl(record.token) });

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
    const record = await h.publish(Buffer.from('remote'), { storage: 'gcs', ttlMs: 10 * MINUTE_MS });
    h.now += 9 * MINUTE_MS;

    const res = await h.app.inject({ method: 'GET', url: fileUrl(record.token) });

    expect(res.statusCode).toBe(302);
    expect(h.signedUrlCalls.at(-1)?.expiresAt).toBe(record.expiresAt);
  });

  it('answers 404 when the remote object is gone, and 410 once expired', async () => {
    const gone = await h.publish(Buffer.from('remote'), { storage: 'gcs' });
    await h.remote.delete(gone.file.key);
    expect((await h.app.inject({ method: 'GET', url: fileUrl(gone.token) })).statusCode).toBe(404);

    const expired = await h.publish(Buffer.from('remote'), { storage: 'gcs', ttlMs: MINUTE_MS });
    h.now += 2 * MINUTE_MS;
    expect((await h.app.inject({ method: 'GET', url: fileUrl(expired.token) })).statusCode).toBe(410);
    expect(h.signedUrlCalls).toEqual([]);
  });

  it('answers 503 system_error when this process has no remote storage configured', async () => {
    const record = await h.publish(Buffer.from('remote'), { storage: 'gcs' });
    h.gcsConfigured = false;

    const res = await h.app.inject({ method: 'GET', url: fileUrl(record.token) });

    expect(res.statusCode).toBe(503);
    expectErrorBody(res.payload, 'system_error');
  });
});

describe('over a real connection', () => {
  const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

  it('streams a multi-megabyte file intact, whole and by range', async () => {
    const data = randomBytes(24 * 1024 * 1024 + 17);
    const record = await h.publish(data, { name: 'large.mp4' });
    const base = await h.app.listen({ host: '127.0.0.1', port: 0 });

    const whole = await fetch(`${base}${fileUrl(record.token)}`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-length')).toBe(String(data.length));
    expect(sha256(Buffer.from(await whole.arrayBuffer()))).toBe(sha256(data));

    const start = 5 * 1024 * 1024 + 3;
    const part = await fetch(`${base}${fileUrl(record.token)}`, { headers: { range: `bytes=${start}-` } });
    expect(part.status).toBe(206);
    expect(sha256(Buffer.from(await part.arrayBuffer()))).toBe(sha256(data.subarray(start)));
  });

  it('survives a client that hangs up mid-download', async () => {
    const data = randomBytes(16 * 1024 * 1024);
    const record = await h.publish(data, { name: 'large.mp4' });
    const base = await h.app.listen({ host: '127.0.0.1', port: 0 });

    const controller = new AbortController();
    const res = await fetch(`${base}${fileUrl(record.token)}`, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.closed.catch(() => undefined);

    const again = await fetch(`${base}${fileUrl(record.token)}`, { headers: { range: 'bytes=0-3' } });
    expect(again.status).toBe(206);
    expect(Buffer.from(await again.arrayBuffer()).equals(data.subarray(0, 4))).toBe(true);
  });
});
