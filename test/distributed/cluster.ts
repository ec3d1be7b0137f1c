/**
 * A distributed ultra-dl cluster of real processes for tests (SPEC §1): api and worker processes of
 * the built command sharing one Redis (under a key prefix of their own) and one DOWNLOAD_DIR, with
 * yt-dlp behind a wrapper that records every invocation, so a test can count runs per job.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawnService, type SpawnedService } from '../helpers/spawn-service.js';

export interface ClusterOptions {
  redisUrl: string;
  prefix: string;
  apis: number;
  workers: number;
  /** Extra environment for every process. */
  env?: Record<string, string>;
}

export interface Cluster {
  apis: SpawnedService[];
  workers: SpawnedService[];
  downloadDir: string;
  env: Record<string, string>;
  /** Starts one more process; `serve` counts as both an api and a worker. */
  start(command: 'api' | 'worker' | 'serve'): Promise<SpawnedService>;
  /** How many download runs of yt-dlp each job got (extractions are not counted). */
  downloadRuns(): Promise<Map<string, number>>;
  /** Every process's output, for failure messages. */
  output(): string;
  /** Stops every process still running (SIGTERM, then SIGKILL) and removes the temp dirs. */
  close(): Promise<void>;
}

/** A process that ignores SIGTERM this long is killed, so a test never leaves one behind. */
const STOP_TIMEOUT_MS = 15_000;

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-cluster-'));
  const downloadDir = path.join(tmp, 'downloads');
  const log = path.join(tmp, 'yt-dlp-calls.log');
  const wrapper = path.join(tmp, 'yt-dlp');
  // One line per invocation; `exec` keeps the real yt-dlp as the process the engine kills.
  await writeFile(wrapper, `#!/bin/sh\necho "$*" >> '${log}'\nexec yt-dlp "$@"\n`);
  await chmod(wrapper, 0o755);

  const env: Record<string, string> = {
    NODE_ENV: 'test',
    REDIS_URL: options.redisUrl,
    REDIS_PREFIX: options.prefix,
    DOWNLOAD_DIR: downloadDir,
    DATA_DIR: path.join(tmp, 'data'),
    ALLOWED_HOSTS: '127.0.0.1',
    MIN_FREE_DISK_MB: '0',
    HOST: '127.0.0.1',
    PORT: '0',
    WORKER_PORT: '0',
    YTDLP_PATH: wrapper,
    SHUTDOWN_GRACE_SECONDS: '5',
    ...options.env,
  };

  const all: SpawnedService[] = [];
  const cluster: Cluster = {
    apis: [],
    workers: [],
    downloadDir,
    env,
    async start(command) {
      const service = await spawnService(command, env);
      all.push(service);
      if (command !== 'worker') cluster.apis.push(service);
      if (command !== 'api') cluster.workers.push(service);
      return service;
    },
    async downloadRuns() {
      const text = await readFile(log, 'utf8').catch(() => '');
      const runs = new Map<string, number>();
      for (const line of text.split('\n')) {
        // A download run names the job's work dir (`.../<job id>/...`); `-J` extractions do not.
        const m = /[/\\]([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})[/\\]/.exec(line);
        if (m?.[1] && line.split(' ').includes('--newline')) runs.set(m[1], (runs.get(m[1]) ?? 0) + 1);
      }
      return runs;
    },
    output: () => all.map((s, i) => `--- process ${i} (pid ${s.proc.pid})\n${s.output()}`).join('\n'),
    async close() {
      await Promise.all(all.map((s) => stopService(s)));
      await rm(tmp, { recursive: true, force: true });
    },
  };

  try {
    // Sequential: parallel start-ups on two cores only make each one slower.
    for (let i = 0; i < options.apis; i++) await cluster.start('api');
    for (let i = 0; i < options.workers; i++) await cluster.start('worker');
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

export async function stopService(service: SpawnedService): Promise<void> {
  if (service.proc.exitCode !== null || service.proc.signalCode !== null) return;
  service.kill('SIGTERM');
  const timer = setTimeout(() => service.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await service.exited;
  clearTimeout(timer);
}
