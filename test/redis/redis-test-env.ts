/**
 * Shared Redis helpers for the distributed-mode tests: a unique key prefix per run on the shared
 * test Redis, key cleanup, and a private `redis-server` on a random port for outage tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

export const silentLogger = pino({ level: 'silent' });

/** A prefix no other run uses, so runs can share one Redis. */
export function uniquePrefix(): string {
  return `test:${randomUUID().slice(0, 12)}:`;
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function countKeys(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    let count = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      count += keys.length;
    } while (cursor !== '0');
    return count;
  } finally {
    redis.disconnect();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface PrivateRedis {
  port: number;
  /** `redis://:<password>@127.0.0.1:<port>/<db>` */
  url(db?: number): string;
  /** Kills the server (SIGKILL) and waits until it is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port; the data survives only with `persist`. */
  start(): Promise<void>;
  /** Stops it and removes its data directory (a `persist` server must end with this). */
  destroy(): Promise<void>;
}

/**
 * A throw-away `redis-server` with a password, on a random loopback port. No RDB snapshots
 * (`--save ''`); with `persist`, an fsync-always AOF in a temp dir keeps data across a SIGKILL.
 */
export async function startPrivateRedis(password: string, options: { persist?: boolean } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  // Only a persistent server writes files; the others need no directory (and leave none behind).
  const dir = options.persist ? mkdtempSync(path.join(tmpdir(), 'ultra-dl-redis-')) : null;
  let child: ChildProcess | null = null;
  const persistence = dir
    ? ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always']
    : ['--appendonly', 'no'];

  const start = async () => {
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', ...persistence],
      // Never the work tree: whatever Redis might write lands in a temp place.
      { stdio: 'ignore', cwd: dir ?? tmpdir() },
    );
    child = proc;
    const deadline = Date.now() + 5_000;
    for (;;) {
      const probe = new Redis({ port, host: '127.0.0.1', password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        if (Date.now() > deadline) throw new Error('redis-server did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };

  const stop = async () => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  };

  await start();
  return {
    port,
    url: (db = 0) => `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`,
    stop,
    start,
    destroy: async () => {
      await stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
