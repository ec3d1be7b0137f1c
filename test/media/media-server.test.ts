import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_FILES, fixturesDir, largeFixtureUrl, startMediaServer, type MediaServer } from '../helpers/media.js';

let server: MediaServer;

beforeAll(async () => {
  server = await startMediaServer({ slowBytesPerSecond: 400 * 1024 });
});

afterAll(async () => {
  await server?.close();
});

describe('media server', () => {
  it('serves the progressive file whole and by range', async () => {
    const size = (await fs.stat(path.join(fixturesDir(), FIXTURE_FILES.progressive))).size;
    const whole = await fetch(`${server.baseUrl}/video.mp4`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('video/mp4');
    expect((await whole.arrayBuffer()).byteLength).toBe(size);
    const part = await fetch(`${server.baseUrl}/video.mp4`, { headers: { Range: 'bytes=4-11' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 4-11/${size}`);
    // An mp4 starts with its ftyp box: bytes 4..7 spell "ftyp".
    expect(Buffer.from(await part.arrayBuffer()).toString('latin1', 0, 4)).toBe('ftyp');
    const beyond = await fetch(`${server.baseUrl}/video.mp4`, { headers: { Range: `bytes=${size}-` } });
    expect(beyond.status).toBe(416);
    await beyond.arrayBuffer();
  });

  it('serves the DASH manifest and its media', async () => {
    const manifest = await (await fetch(`${server.baseUrl}/dash/manifest.mpd`)).text();
    const media = [...manifest.matchAll(/<BaseURL>([^<]+)<\/BaseURL>/g)].map((m) => m[1]!);
    expect(media).toHaveLength(4);
    for (const m of media) {
      const head = await fetch(`${server.baseUrl}/dash/${m}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(Number(head.headers.get('content-length'))).toBeGreaterThan(1000);
    }
  });

  it.each([404, 403, 429, 500])('answers /error/%i with that status', async (status) => {
    const res = await fetch(`${server.baseUrl}/error/${status}`);
    expect(res.status).toBe(status);
    await res.arrayBuffer();
  });

  it('resets the connection on /error/reset', async () => {
    await expect(fetch(`${server.baseUrl}/error/reset`)).rejects.toThrow();
  });

  it('throttles /slow/ routes', async () => {
    const started = Date.now();
    const res = await fetch(`${server.baseUrl}/slow/dash/audio.m4a`);
    const bytes = (await res.arrayBuffer()).byteLength;
    const seconds = (Date.now() - started) / 1000;
    // 400 KB/s was asked for; allow for the first slice going out at once.
    expect(bytes / seconds).toBeLessThan(600 * 1024);
    expect(bytes).toBe((await fs.stat(path.join(fixturesDir(), FIXTURE_FILES.audio))).size);
  });

  it('serves a large file of exactly the asked size that starts as the progressive mp4', async () => {
    const res = await fetch(largeFixtureUrl(server, 3_000_000));
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(3_000_000);
    const original = await fs.readFile(path.join(fixturesDir(), FIXTURE_FILES.progressive));
    expect(body.subarray(0, original.length).equals(original)).toBe(true);
    expect(body.toString('latin1', original.length + 4, original.length + 8)).toBe('free');
  });

  it('refuses paths outside the fixtures and counts requests', async () => {
    const before = server.requests;
    for (const p of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/dash/../../x.mp4', '/nothing.mp4']) {
      const res = await fetch(`${server.baseUrl}${p}`);
      expect(res.status).toBe(404);
      await res.arrayBuffer();
    }
    expect(server.requests - before).toBe(4);
  });
});
