/**
 * Distributed mode with real processes (SPEC §1, §3, §4): two `ultra-dl api` and two
 * `ultra-dl worker` processes on one Redis (the shared test Redis, under a prefix of this run)
 * and one DOWNLOAD_DIR, real BullMQ, real yt-dlp against the loopback media server.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_FORMAT_IDS, startMediaServer, type MediaServer } from '../helpers/media.js';
import { processesMatching } from '../helpers/processes.js';
import { deleteKeys, countKeys, TEST_REDIS_URL, uniquePrefix } from '../redis/redis-test-env.js';
import { startCluster, type Cluster } from './cluster.js';
import {
  createJob,
  finalStatus,
  getJob,
  openSocket,
  subscribe,
  until,
  type RecordingSocket,
} from './cluster-client.js';

const JOBS = 20;
const prefix = uniquePrefix();
let media: MediaServer;
let cluster: Cluster;
const sockets: RecordingSocket[] = [];

async function socketOn(apiUrl: string): Promise<RecordingSocket> {
  const s = await openSocket(apiUrl);
  sockets.push(s);
  return s;
}

/** The parent pid of a process, from /proc. */
async function parentOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the `(comm)`: state, ppid, ...
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** Waits until yt-dlp downloads the job, and returns its pids. */
async function runningYtdlp(jobId: string): Promise<number[]> {
  let pids: number[] = [];
  await until(async () => (pids = await processesMatching(jobId)).length > 0, 20_000);
  return pids;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

beforeAll(async () => {
  media = await startMediaServer();
  cluster = await startCluster({
    redisUrl: TEST_REDIS_URL,
    prefix,
    apis: 2,
    workers: 2,
    env: { WORKER_CONCURRENCY: '2' },
  });
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await cluster?.close();
  await media?.close();
  await deleteKeys(TEST_REDIS_URL, prefix);
});

describe('a cluster of 2 api and 2 worker processes on one Redis', () => {
  it('reports itself healthy and distributed from every api and worker process', async () => {
    for (const service of [...cluster.apis, ...cluster.workers]) {
      const res = await fetch(`${service.url}/health`);
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body).toMatchObject({ status: 'ok', mode: 'distributed', redis: 'connected', celery: 'available' });
    }
    expect(await countKeys(TEST_REDIS_URL, prefix)).toBeGreaterThan(0);
  });

  it(`runs ${JOBS} jobs created through both apis exactly once each, with events on the other api`, async () => {
    const [apiA, apiB] = [cluster.apis[0]!, cluster.apis[1]!];
    const watchers = [await socketOn(apiA.url), await socketOn(apiB.url)];
    const jobs: { id: string; api: number }[] = [];
    for (let i = 0; i < JOBS; i++) {
      const api = i % 2;
      const id = await createJob(cluster.apis[api]!.url, `${media.baseUrl}/video.mp4?n=${i}`, MEDIA_FORMAT_IDS.progressive);
      jobs.push({ id, api });
      // Each job is watched from the api it was not created on.
      await subscribe(watchers[1 - api]!, id);
    }

    for (const { id, api } of jobs) {
      const other = cluster.apis[1 - api]!.url;
      const final = await finalStatus(other, id, 90_000);
      expect(final.status, JSON.stringify(final)).toBe('completed');
      const event = await watchers[1 - api]!.next('job_completed', id);
      expect(event).toMatchObject({ job_id: id, status: 'completed', download_url: final.download_url });
    }

    const runs = await cluster.downloadRuns();
    expect(jobs.map(({ id }) => runs.get(id) ?? 0)).toEqual(Array(JOBS).fill(1));
    // Both workers took part: the queue spreads the jobs.
    for (const worker of cluster.workers) expect(worker.output()).toContain('"msg":"job started"');
    // A job created before a subscribe ran with events relayed live, not only replayed: the
    // socket saw its download progress, which a replay of a completed job never sends.
    const live = jobs.filter(({ id, api }) =>
      watchers[1 - api]!.of('job_progress', id).some((p) => (p.progress as { phase: string }).phase === 'downloading'),
    );
    expect(live.length).toBeGreaterThan(0);

    // The file of a job created on api A downloads through api B (shared DOWNLOAD_DIR).
    const first = jobs.find((j) => j.api === 0)!;
    const status = (await getJob(apiB.url, first.id))!;
    const file = await fetch(`${apiB.url}${status.download_url}`);
    expect(file.status).toBe(200);
    expect(Number(file.headers.get('content-length'))).toBeGreaterThan(10_000);
    expect((await file.arrayBuffer()).byteLength).toBe(Number(file.headers.get('content-length')));

    // State replay on subscribe works from any api: a fresh socket on api A gets the completed
    // state of a job that api B created.
    const late = await socketOn(apiA.url);
    const fromB = jobs.find((j) => j.api === 1)!;
    await subscribe(late, fromB.id);
    expect(await late.next('job_completed', fromB.id, 5_000)).toMatchObject({ job_id: fromB.id, status: 'completed' });
  }, 120_000);

  it('relays the live progress of a job to a socket on the other api', async () => {
    const [apiA, apiB] = cluster.apis;
    const watcher = await socketOn(apiB!.url);
    const id = await createJob(apiA!.url, `${media.baseUrl}/slow/video.mp4?progress`, MEDIA_FORMAT_IDS.progressive);
    await subscribe(watcher, id);
    await watcher.next('job_completed', id, 40_000);
    const percentages = watcher.of('job_progress', id).map((p) => (p.progress as { percentage: number }).percentage);
    // A throttled ~5 s download reports several steps; a replay alone would be one event.
    expect(new Set(percentages).size).toBeGreaterThan(3);
    expect([...percentages].sort((a, b) => a - b)).toEqual(percentages);
  }, 60_000);

  it('cancels a running job through DELETE on the other api within 2 s, killing yt-dlp on its worker', async () => {
    const [apiA, apiB] = cluster.apis;
    const watcher = await socketOn(apiA!.url);
    const id = await createJob(apiA!.url, `${media.baseUrl}/slow/video.mp4?cancel-delete`, MEDIA_FORMAT_IDS.progressive);
    await subscribe(watcher, id);
    await runningYtdlp(id);
    const workDir = path.join(cluster.downloadDir, '.work', id);
    expect(await exists(workDir)).toBe(true);

    const started = Date.now();
    const res = await fetch(`${apiB!.url}/api/v1/jobs/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    await until(async () => (await processesMatching(id)).length === 0, 2_000);
    expect(Date.now() - started).toBeLessThan(2_000);
    await until(async () => !(await exists(workDir)) && !(await exists(path.join(cluster.downloadDir, id))), 2_000);

    expect(await watcher.next('job_cancelled', id, 2_000)).toMatchObject({ job_id: id, status: 'cancelled' });
    expect(await getJob(apiA!.url, id)).toBeNull();
    expect(await getJob(apiB!.url, id)).toBeNull();
    expect(watcher.of('job_completed', id)).toEqual([]);
  });

  it('cancels a running job through cancel_job on a socket of the other api', async () => {
    const [apiA, apiB] = cluster.apis;
    const canceller = await socketOn(apiB!.url);
    const id = await createJob(apiA!.url, `${media.baseUrl}/slow/video.mp4?cancel-socket`, MEDIA_FORMAT_IDS.progressive);
    await runningYtdlp(id);

    const started = Date.now();
    canceller.socket.emit('cancel_job', { job_id: id });
    expect(await canceller.next('job_cancelled', id, 2_000)).toMatchObject({ job_id: id, status: 'cancelled' });
    await until(async () => (await processesMatching(id)).length === 0, 2_000);
    expect(Date.now() - started).toBeLessThan(2_000);
    // The worker removes the work dir once its yt-dlp is gone.
    await until(async () => !(await exists(path.join(cluster.downloadDir, '.work', id))), 2_000);
    expect(await getJob(apiA!.url, id)).toBeNull();
  });

  it('hands the job of a SIGKILLed worker to the other worker, which completes it', async () => {
    const [apiA] = cluster.apis;
    const id = await createJob(apiA!.url, `${media.baseUrl}/slow/video.mp4?sigkill`, MEDIA_FORMAT_IDS.progressive);
    const pids = await runningYtdlp(id);
    const parent = await parentOf(pids[0]!);
    const victim = cluster.workers.find((w) => w.proc.pid === parent);
    expect(victim, `yt-dlp's parent ${parent} is not a worker`).toBeDefined();
    const survivor = cluster.workers.find((w) => w !== victim)!;

    victim!.kill('SIGKILL');
    await victim!.exited;
    // The machine is gone: its yt-dlp (a process group of its own) goes with it.
    for (const pid of await processesMatching(id)) process.kill(pid, 'SIGKILL');

    const final = await finalStatus(apiA!.url, id, 60_000);
    expect(final.status, JSON.stringify(final)).toBe('completed');
    expect((await cluster.downloadRuns()).get(id)).toBe(2);
    expect(survivor.output()).toContain(id);
    const file = await fetch(`${apiA!.url}${final.download_url}`, { method: 'HEAD' });
    expect(file.status).toBe(200);
  }, 90_000);

  it('lets a `serve` process with REDIS_URL join the cluster as api and worker', async () => {
    const serve = await cluster.start('serve');
    const res = await fetch(`${serve.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ mode: 'distributed', redis: 'connected', socketio: 'available' });
    // Shared state: it sees a job another api created, and its sockets get that api's events.
    const watcher = await socketOn(serve.url);
    const id = await createJob(cluster.apis[0]!.url, `${media.baseUrl}/video.mp4?serve`, MEDIA_FORMAT_IDS.progressive);
    await subscribe(watcher, id);
    expect(await getJob(serve.url, id)).not.toBeNull();
    expect(await watcher.next('job_completed', id, 30_000)).toMatchObject({ job_id: id, status: 'completed' });
  });
});
