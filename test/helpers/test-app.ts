/**
 * A whole ultra-dl process for tests: the real runtime (real SQLite, queue, worker pool, yt-dlp)
 * on port 0 with its own temp dirs, configured from env overrides like a user would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { startRuntime, type Role, type Runtime } from '../../src/runtime.js';

export interface TestApp {
  runtime: Runtime;
  config: Config;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  dataDir: string;
  downloadDir: string;
  close(): Promise<void>;
}

export async function startTestApp(
  env: Record<string, string> = {},
  options: { roles?: Role[]; dirs?: { dataDir: string; downloadDir: string } } = {},
): Promise<TestApp> {
  const own = !options.dirs;
  const dataDir = options.dirs?.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-data-')));
  const downloadDir = options.dirs?.downloadDir ?? (await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-dl-')));
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    WORKER_PORT: '0',
    ALLOWED_HOSTS: '127.0.0.1',
    MIN_FREE_DISK_MB: '0',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    DOWNLOAD_DIR: downloadDir,
    ...env,
  });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? config.logLevel });
  const runtime = await startRuntime({ config, roles: options.roles ?? ['api', 'worker'], logger });
  let closed = false;
  return {
    runtime,
    config,
    url: runtime.url ?? '',
    dataDir,
    downloadDir,
    async close() {
      if (closed) return;
      closed = true;
      await runtime.shutdown();
      if (own) {
        await rm(dataDir, { recursive: true, force: true });
        await rm(downloadDir, { recursive: true, force: true });
      }
    },
  };
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 20_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
