/**
 * A test's own `redis-server` with AOF persistence, a password and a DB index, that can be stopped
 * gracefully (SIGTERM, which flushes the AOF) and started again on the same port and directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../redis/redis-test-env.js';

export interface OwnRedis {
  /** `redis://:<password>@127.0.0.1:<port>/<db>` */
  url: string;
  start(): Promise<void>;
  /** SIGTERM, and waits for the exit: Redis writes its AOF out before it exits. */
  stop(): Promise<void>;
  /** Stops it (SIGKILL if need be) and removes its data directory. */
  destroy(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

export async function startOwnRedis(options: { password: string; db: number }): Promise<OwnRedis> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-own-redis-'));
  let child: ChildProcess | null = null;

  async function start(): Promise<void> {
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', options.password, '--appendonly', 'yes', '--dir', dir, '--save', ''],
      { stdio: 'ignore' },
    );
    child = proc;
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
      const probe = new Redis({ port, host: '127.0.0.1', password: options.password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        // PING answers while the AOF is still loading; a read does not.
        await probe.dbsize();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error('redis-server did not start');
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        probe.disconnect();
      }
    }
  }

  async function stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
  }

  await start();
  return {
    url: `redis://:${encodeURIComponent(options.password)}@127.0.0.1:${port}/${options.db}`,
    start,
    stop: () => stop('SIGTERM'),
    async destroy() {
      await stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
