/**
 * End-to-end jobs with real yt-dlp and ffmpeg against the loopback media server (SPEC §12): a DASH
 * merge, a progressive file, the error routes, cancel mid-download and delete after completion.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_FORMAT_IDS, startMediaServer, type MediaServer } from '../helpers/media.js';
import { processesMatching } from '../helpers/processes.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';

const run = promisify(execFile);
let media: MediaServer;
let t: TestApp;

beforeAll(async () => {
  media = await startMediaServer();
  t = await startTestApp({ WORKER_CONCURRENCY: '2' });
});

afterAll(async () => {
  await t?.close();
  await media?.close();
});

async function api(method: string, url: string, payload?: unknown) {
  const res = await t.runtime.app!.inject({ method: method as 'GET', url, payload: payload as object });
  return { status: res.statusCode, body: res.body ? (res.json() as Record<string, any>) : null, raw: res.rawPayload };
}

async function startJob(route: string, formatId: string): Promise<string> {
  const res = await api('POST', '/api/v1/downloads/', { url: `${media.baseUrl}${route}`, format_id: formatId });
  expect(res.status).toBe(202);
  expect(res.body).toEqual({ job_id: expect.any(String), status: 'pending', message: 'Download job created successfully' });
  return res.body!.job_id as string;
}

async function finished(jobId: string, timeoutMs = 40_000) {
  return waitFor(async () => {
    const res = await api('GET', `/api/v1/jobs/${jobId}`);
    return res.body && ['completed', 'failed'].includes(res.body.status) ? res.body : null;
  }, timeoutMs);
}

async function ffprobe(file: string) {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file]);
  return (JSON.parse(stdout) as { streams: { codec_type: string; height?: number }[] }).streams;
}

describe('end-to-end jobs', () => {
  it('merges DASH video-only + audio into an mp4 with both streams at the chosen height', async () => {
    const jobId = await startJob('/dash/manifest.mpd', `${MEDIA_FORMAT_IDS.dashVideo[240]}+${MEDIA_FORMAT_IDS.dashAudio}`);
    const job = await finished(jobId);
    expect(job.status, String(job.error)).toBe('completed');
    const res = await fetch(`${t.url}${job.download_url}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/\.mp4/);
    const file = path.join(t.downloadDir, 'probe.mp4');
    await writeFile(file, Buffer.from(await res.arrayBuffer()));
    const streams = await ffprobe(file);
    expect(streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    expect(streams.find((s) => s.codec_type === 'video')?.height).toBe(240);
  });

  it('downloads a progressive mp4 with progress that only goes up', async () => {
    const jobId = await startJob('/slow/video.mp4', MEDIA_FORMAT_IDS.progressive);
    const seen: number[] = [];
    const job = await waitFor(async () => {
      const res = await api('GET', `/api/v1/jobs/${jobId}`);
      seen.push(res.body!.progress.percentage as number);
      return ['completed', 'failed'].includes(res.body!.status) ? res.body : null;
    }, 40_000, 100);
    expect(job.status, String(job.error)).toBe('completed');
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(new Set(seen).size).toBeGreaterThan(3);
    const streams = await ffprobe(path.join(t.downloadDir, jobId, (await readdir(path.join(t.downloadDir, jobId)))[0]!));
    expect(streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
  });

  it.each([
    ['/error/dash-403/manifest.mpd', `${MEDIA_FORMAT_IDS.dashVideo[144]}+${MEDIA_FORMAT_IDS.dashAudio}`, 'video_unavailable'],
    ['/error/dash-reset/manifest.mpd', MEDIA_FORMAT_IDS.dashAudio, 'network_error'],
    ['/error/404', 'best', 'video_unavailable'],
    ['/error/429', 'best', 'platform_rate_limited'],
    // Not cached yet, so POST accepts the well-formed id and the worker refuses it (SPEC §2).
    ['/dash/manifest.mpd?uncached', 'video-9999p', 'format_not_supported'],
  ])('fails %s (%s) with %s', async (route, formatId, category) => {
    const jobId = await startJob(route, formatId);
    const job = await finished(jobId);
    expect(job.status).toBe('failed');
    expect(job.error_category).toBe(category);
    expect(job.error).toMatch(/^[^:]+: .+/);
    expect(job.download_url).toBeNull();
    expect(existsSync(path.join(t.downloadDir, '.work', jobId))).toBe(false);
  });

  it('refuses an unlisted format at POST once the format list is cached', async () => {
    const url = `${media.baseUrl}/dash/manifest.mpd?cached`;
    expect((await api('POST', '/api/v1/videos/resolutions', { url })).status).toBe(200);
    const res = await api('POST', '/api/v1/downloads/', { url, format_id: 'video-9999p' });
    expect(res.status).toBe(400);
    expect(res.body!.error).toBe('format_not_supported');
    const ok = await api('POST', '/api/v1/downloads/', { url, format_id: MEDIA_FORMAT_IDS.dashAudio });
    expect(ok.status).toBe(202);
    expect((await finished(ok.body!.job_id as string)).status).toBe('completed');
  });

  it('cancels mid-download: processes gone within 2 s, files removed, job and link 404', async () => {
    const jobId = await startJob('/slow/dash/manifest.mpd', `${MEDIA_FORMAT_IDS.dashVideo[360]}+${MEDIA_FORMAT_IDS.dashAudio}`);
    await waitFor(async () => {
      const res = await api('GET', `/api/v1/jobs/${jobId}`);
      return res.body!.progress.phase === 'downloading' && res.body!.progress.percentage > 0;
    }, 20_000);
    expect((await processesMatching(jobId)).length).toBeGreaterThan(0);

    const started = Date.now();
    const del = await api('DELETE', `/api/v1/jobs/${jobId}`);
    expect(del.status).toBe(204);
    await waitFor(async () => (await processesMatching(jobId)).length === 0, 2_000, 50);
    expect(Date.now() - started).toBeLessThan(2_000);
    await waitFor(() => !existsSync(path.join(t.downloadDir, '.work', jobId)), 2_000);
    expect(existsSync(path.join(t.downloadDir, jobId))).toBe(false);
    expect((await api('GET', `/api/v1/jobs/${jobId}`)).status).toBe(404);
    expect((await api('DELETE', `/api/v1/jobs/${jobId}`)).status).toBe(404);
  });

  it('removes the file of a deleted completed job: its link gives 404', async () => {
    const jobId = await startJob('/video.mp4', MEDIA_FORMAT_IDS.progressive);
    const job = await finished(jobId);
    expect(job.status).toBe('completed');
    expect((await fetch(`${t.url}${job.download_url}`, { method: 'HEAD' })).status).toBe(200);
    expect((await api('DELETE', `/api/v1/jobs/${jobId}`)).status).toBe(204);
    const file = await api('GET', job.download_url as string);
    expect(file.status).toBe(404);
    expect(file.body!.error).toBe('file_not_found');
    expect(existsSync(path.join(t.downloadDir, jobId))).toBe(false);
  });

  it('counts finished jobs by outcome in /metrics', async () => {
    const res = await t.runtime.app!.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const completed = /ultradl_jobs_finished_total\{outcome="completed",category=""\} (\d+)/.exec(res.body);
    expect(Number(completed?.[1])).toBeGreaterThanOrEqual(4);
    expect(res.body).toMatch(/ultradl_jobs_finished_total\{outcome="failed",category="platform_rate_limited"\} 1/);
    expect(res.body).toMatch(/ultradl_queue_jobs\{state="waiting"\} \d+/);
    expect(res.body).toContain('ultradl_process_resident_memory_bytes');
  });
});
