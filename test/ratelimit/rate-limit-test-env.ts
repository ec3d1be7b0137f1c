/**
 * Shared setup of the rate-limit tests: production configs from env overrides, each real backend
 * (SQLite file, Redis with a unique prefix, memory), and a logger whose lines can be read back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { expect } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { AppError } from '../../src/errors.js';
import { createRateLimitStore, type RateLimitBackend } from '../../src/ratelimit/rate-limit-store.js';
import { openDatabase } from '../../src/store/sqlite-database.js';
import { TEST_REDIS_URL, deleteKeys, uniquePrefix } from '../redis/redis-test-env.js';

/** A production config with rate limiting on; every limit generous unless overridden. */
export function limitConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'production',
    RATE_LIMIT_ENABLED: 'true',
    RATE_LIMIT_BATCH_MINUTE: '1000',
    RATE_LIMIT_VIDEO_ONLY_DAILY: '1000',
    RATE_LIMIT_AUDIO_ONLY_DAILY: '1000',
    RATE_LIMIT_VIDEO_AUDIO_DAILY: '1000',
    RATE_LIMIT_TOTAL_JOBS_DAILY: '1000',
    ...env,
  });
}

export type BackendKind = 'sqlite' | 'redis' | 'memory';

export interface TestBackend {
  backend: RateLimitBackend;
  /** Another handle on the same counters (a second connection, or a reopened database). */
  reopen(): Promise<RateLimitBackend>;
  cleanup(): Promise<void>;
}

export async function openBackend(kind: BackendKind): Promise<TestBackend> {
  if (kind === 'memory') {
    // Memory counters live in the store object, so services share them by sharing the store.
    const backend: RateLimitBackend = { kind: 'store', store: createRateLimitStore({ kind: 'memory' }) };
    return { backend, reopen: async () => backend, cleanup: async () => {} };
  }
  if (kind === 'sqlite') {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-rl-'));
    const dbs = [openDatabase(dir)];
    return {
      backend: { kind: 'sqlite', db: dbs[0]! },
      reopen: async () => {
        const db = openDatabase(dir);
        dbs.push(db);
        return { kind: 'sqlite', db };
      },
      cleanup: async () => {
        for (const db of dbs) if (db.open) db.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const prefix = uniquePrefix();
  const clients = [await connectedRedis()];
  return {
    backend: { kind: 'redis', redis: clients[0]!, prefix },
    reopen: async () => {
      const redis = await connectedRedis();
      clients.push(redis);
      return { kind: 'redis', redis, prefix };
    },
    cleanup: async () => {
      await deleteKeys(TEST_REDIS_URL, prefix);
      for (const c of clients) c.disconnect();
    },
  };
}

/** A client on the test Redis that is ready: the store fails open while a client connects. */
export async function connectedRedis(): Promise<Redis> {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  return redis;
}

export interface CapturedLogger {
  logger: Logger;
  lines: { level: number; msg: string; [key: string]: unknown }[];
}

export function capturedLogger(): CapturedLogger {
  const lines: CapturedLogger['lines'] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

export const silent = pino({ level: 'silent' });

/** Asserts `promise` rejects with the 429 of `limitType` and returns that error. */
export async function expect429(promise: Promise<unknown>, limitType: string): Promise<AppError> {
  const err = await promise.then(
    () => {
      throw new Error(`expected a 429 ${limitType}, but the request was accepted`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  const appError = err as AppError;
  expect(appError.status).toBe(429);
  expect(appError.category).toBe('rate_limited');
  expect(appError.extra?.limit_type).toBe(limitType);
  return appError;
}
