/**
 * Jobs survive restarts (embedded mode): a pending job runs after a restart, a job whose process
 * was killed mid-download is retried or failed, and SIGTERM hands running jobs back and exits 0
 * within SHUTDOWN_GRACE_SECONDS.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_FORMAT_IDS, startMediaServer, type MediaServer } from '../helpers/media.js';
import { processesMatching } from '../helpers/processes.js';
import { spawnService, type SpawnedService } from '../helpers/spawn-service.js';
import { startTestApp, waitFor } from '../helpers/test-app.js';

let media: MediaServer;
let dirs: { dataDir: string; downloadDir: string };
const running: SpawnedService[] = [];

beforeAll(async () => {
  media = await startMediaServer({ slowBytesPerSecond: 100 * 1024 });
});

afterAll(async () => {
  for (const s of running) s.kill('SIGKILL');
  await media?.close();
});

async function freshDirs() {
  dirs = {
    dataDir: await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-life-data-')),
    downloadDir: await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-life-dl-')),
  };
  return dirs;
}

function serviceEnv(extra: Record<string, string> = {}) {
  return {
    HOST: '127.0.0.1',
    PORT: '0',
    ALLOWED_HOSTS: '127.0.0.1',
    MIN_FREE_DISK_MB: '0',
    DATA_DIR: dirs.dataDir,
    DOWNLOAD_DIR: dirs.downloadDir,
    SHUTDOWN_GRACE_SECONDS: '4',
    ...extra,
  };
}

async function serve(extra: Record<string, string> = {}) {
  const s = await spawnService('serve', serviceEnv(extra));
  running.push(s);
  return s;
}

async function job(base: string, id: string) {
  const res = await fetch(`${base}/api/v1/jobs/${id}`);
  return (await res.json()) as { status: string; progress: { percentage: number; phase: string }; error_category: string | null };
}

async function create(base: string, route: string, formatId: string) {
  const res = await fetch(`${base}/api/v1/downloads/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: `${media.baseUrl}${route}`, format_id: formatId }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { job_id: string }).job_id;
}

describe('restarts', () => {
  it('runs a job left pending by a process without workers after the restart', async () => {
    await freshDirs();
    const apiOnly = await startTestApp({}, { roles: ['api'], dirs });
    const id = await create(apiOnly.url, '/video.mp4', MEDIA_FORMAT_IDS.progressive);
    expect((await job(apiOnly.url, id)).status).toBe('pending');
    await apiOnly.close();

    const full = await startTestApp({}, { dirs });
    try {
      await waitFor(async () => (await job(full.url, id)).status === 'completed', 30_000);
    } finally {
      await full.close();
      await rm(dirs.dataDir, { recursive: true, force: true });
      await rm(dirs.downloadDir, { recursive: true, force: true });
    }
  });

  it('retries a job whose process was SIGKILLed mid-download', async () => {
    await freshDirs();
    const first = await serve();
    const id = await create(first.url, '/slow/video.mp4', MEDIA_FORMAT_IDS.progressive);
    await waitFor(async () => (await job(first.url, id)).progress.phase === 'downloading', 20_000);
    first.kill('SIGKILL');
    await first.exited;
    // Its yt-dlp, in a process group of its own, may outlive it; it dies of the broken pipe or is
    // ended by the next worker that starts on this disk.
    const orphans = await processesMatching(id);

    const second = await serve();
    await waitFor(async () => {
      const now = await processesMatching(id);
      return orphans.every((pid) => !now.includes(pid));
    }, 10_000);
    const final = await waitFor(async () => {
      const j = await job(second.url, id);
      return ['completed', 'failed'].includes(j.status) ? j : null;
    }, 40_000);
    expect(final.status).toBe('completed');
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('hands running jobs back on SIGTERM, exits 0 in the grace period, and resumes after restart', async () => {
    await freshDirs();
    const first = await serve({ SHUTDOWN_GRACE_SECONDS: '4' });
    const id = await create(first.url, '/slow/video.mp4', MEDIA_FORMAT_IDS.progressive);
    const before = await waitFor(async () => {
      const j = await job(first.url, id);
      return j.progress.percentage > 5 ? j : null;
    }, 20_000);
    const stoppedAt = Date.now();
    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(4_000 + 1_000);
    expect(await processesMatching(id)).toEqual([]);

    const second = await serve();
    const seen: number[] = [];
    const final = await waitFor(async () => {
      const j = await job(second.url, id);
      seen.push(j.progress.percentage);
      return ['completed', 'failed'].includes(j.status) ? j : null;
    }, 40_000, 100);
    expect(final.status).toBe('completed');
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(before.progress.percentage);
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
