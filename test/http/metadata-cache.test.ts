/**
 * The metadata cache (SPEC §5): 20 concurrent resolutions of one uncached URL start exactly one
 * yt-dlp process, and a download of a resolved URL does not extract it again.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_FORMAT_IDS, startMediaServer, type MediaServer } from '../helpers/media.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';

let media: MediaServer;
let t: TestApp;
let dir: string;
let log: string;

beforeAll(async () => {
  media = await startMediaServer();
  dir = await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-ytdlp-log-'));
  log = path.join(dir, 'calls.log');
  // The real yt-dlp behind a wrapper that records each invocation's arguments.
  const wrapper = path.join(dir, 'yt-dlp');
  await writeFile(wrapper, `#!/bin/sh\necho "$*" >> '${log}'\nexec yt-dlp "$@"\n`);
  await chmod(wrapper, 0o755);
  t = await startTestApp({ YTDLP_PATH: wrapper });
});

afterAll(async () => {
  await t?.close();
  await media?.close();
  await rm(dir, { recursive: true, force: true });
});

async function calls(flag: string): Promise<string[]> {
  const text = await readFile(log, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.split(' ').includes(flag));
}

describe('metadata cache', () => {
  it('starts exactly one yt-dlp for 20 concurrent requests of one uncached URL', async () => {
    const url = `${media.baseUrl}/slow/video.mp4?single-flight`;
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        t.runtime.app!.inject({ method: 'POST', url: '/api/v1/videos/resolutions', payload: { url } }),
      ),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    expect(new Set(responses.map((r) => r.body)).size).toBe(1);
    expect(await calls('-J')).toHaveLength(1);
  });

  it('reuses the cached metadata for the download (no second extraction)', async () => {
    const url = `${media.baseUrl}/video.mp4?reuse`;
    const res = await t.runtime.app!.inject({ method: 'POST', url: '/api/v1/videos/resolutions', payload: { url } });
    expect(res.statusCode).toBe(200);
    const before = (await calls('-J')).length;
    const created = await t.runtime.app!.inject({
      method: 'POST',
      url: '/api/v1/downloads/',
      payload: { url, format_id: MEDIA_FORMAT_IDS.progressive },
    });
    const { job_id } = created.json() as { job_id: string };
    await waitFor(async () => {
      const job = (await t.runtime.app!.inject({ method: 'GET', url: `/api/v1/jobs/${job_id}` })).json() as { status: string };
      return job.status === 'completed';
    }, 30_000);
    expect((await calls('-J')).length).toBe(before);
    const downloads = await calls('--load-info-json');
    expect(downloads.length).toBeGreaterThan(0);
  });
});
