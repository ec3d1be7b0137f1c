import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newJob, type JobPayload } from '../../src/downloads/job.js';
import { createRedisCache } from '../../src/cache/redis-cache.js';
import { AppError } from '../../src/errors.js';
import { createBullmqJobQueue } from '../../src/queue/bullmq-job-queue.js';
import { closeRedis, createRedis, redisHealth } from '../../src/redis/redis-connection.js';
import { createRedisJobStore } from '../../src/store/redis-job-store.js';
import { createRedisTokenStore } from '../../src/store/redis-token-store.js';
import { silentLogger, startPrivateRedis, type PrivateRedis } from './redis-test-env.js';

const PASSWORD = 'p@ss:w/rd#1';
const DB = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function jobFor(clientKey = 'client-a') {
  return newJob({ id: randomUUID(), url: 'https://youtu.be/abc', formatId: '18', downloadType: 'video-audio', clientKey, now: Date.now() });
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await Promise.resolve().then(check).catch(() => false))) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

/** Awaits `promise`, expecting a 503 system_error, and returns how long it took. */
async function timeRejection(promise: Promise<unknown>): Promise<number> {
  const t0 = Date.now();
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).category).toBe('system_error');
  expect((err as AppError).status).toBe(503);
  return Date.now() - t0;
}

describe('Redis with a password and a DB index, going down and coming back', () => {
  let server: PrivateRedis;
  const logLines: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    }),
  );

  beforeAll(async () => {
    server = await startPrivateRedis(PASSWORD, { persist: true });
  });
  afterAll(async () => {
    await server.destroy();
  });

  it('connects with the password and uses the DB index of the URL', async () => {
    const redis = createRedis(server.url(DB), { role: 'test', logger });
    try {
      const store = createRedisJobStore(redis, { prefix: 'p:', jobTtlSeconds: 60 });
      const job = jobFor();
      await store.create(job);
      expect((await store.get(job.id))?.id).toBe(job.id);
      expect(await redisHealth(redis)).toBe('connected');

      const probe = new Redis({ port: server.port, host: '127.0.0.1', password: PASSWORD, db: DB });
      const db0 = new Redis({ port: server.port, host: '127.0.0.1', password: PASSWORD, db: 0 });
      try {
        expect(await probe.exists(`p:job:${job.id}`)).toBe(1);
        expect(await db0.exists(`p:job:${job.id}`)).toBe(0);
      } finally {
        probe.disconnect();
        db0.disconnect();
      }
    } finally {
      await closeRedis(redis);
    }
  });

  it('answers a wrong password with a 503 error, not a crash or a hang', async () => {
    const redis = createRedis(server.url(DB).replace(encodeURIComponent(PASSWORD), 'wrong'), { role: 'test', logger });
    try {
      const store = createRedisJobStore(redis, { prefix: 'p:', jobTtlSeconds: 60 });
      expect(await timeRejection(store.get('x'))).toBeLessThan(2_000);
    } finally {
      await closeRedis(redis);
    }
  });

  it('rejects request-path calls within 2 s while Redis is down and recovers by itself', async () => {
    const url = server.url(DB);
    const prefix = `outage:${randomUUID().slice(0, 8)}:`;
    const redis = createRedis(url, { role: 'api', logger });
    const jobs = createRedisJobStore(redis, { prefix, jobTtlSeconds: 60 });
    const tokens = createRedisTokenStore(redis, { prefix });
    const cache = createRedisCache(redis, { prefix });
    const queue = createBullmqJobQueue({ url, prefix, logger, lockDurationMs: 2_000, stalledIntervalMs: 1_000 });
    const delivered: string[] = [];
    const consumer = await queue.consume(async (p: JobPayload) => void delivered.push(p.jobId), {
      concurrency: 1,
      onDead: async () => {},
    });
    try {
      const job = jobFor();
      await jobs.create(job);
      await server.stop();

      const durations = [
        await timeRejection(jobs.get(job.id)),
        await timeRejection(jobs.update(job.id, { status: 'processing' })),
        await timeRejection(jobs.getMany([job.id, 'x'])),
        await timeRejection(jobs.countActiveForClient('client-a')),
        await timeRejection(tokens.resolve('t', Date.now())),
        await timeRejection(cache.get('video:metadata:x')),
        await timeRejection(queue.enqueue({ jobId: randomUUID(), url: 'https://youtu.be/x', formatId: '18' })),
        await timeRejection(queue.counts()),
        await timeRejection(queue.hasLiveWorker()),
        await timeRejection(queue.cancel(job.id)),
      ];
      for (const ms of durations) expect(ms).toBeLessThan(2_000);
      expect(await redisHealth(redis)).toBe('disconnected');

      await server.start();
      // No reconnect by hand: the same adapters work again once Redis is back.
      await until(async () => (await jobs.get(job.id)) !== null, 10_000);
      expect((await jobs.update(job.id, { status: 'processing' }))?.status).toBe('processing');
      expect(await jobs.countActiveForClient('client-a')).toBe(1);
      expect(await redisHealth(redis)).toBe('connected');

      // The waiting worker picks up work again after the outage.
      const after = randomUUID();
      await queue.enqueue({ jobId: after, url: 'https://youtu.be/x', formatId: '18' });
      await until(() => delivered.includes(after), 15_000);
    } finally {
      await consumer.close(1_000);
      await queue.close();
      await closeRedis(redis);
    }
  });

  it('loses no queued job over an outage while workers wait', async () => {
    const url = server.url(DB);
    const prefix = `outage:${randomUUID().slice(0, 8)}:`;
    const queue = createBullmqJobQueue({ url, prefix, logger, lockDurationMs: 2_000, stalledIntervalMs: 1_000 });
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const jobId of ids) await queue.enqueue({ jobId, url: 'https://youtu.be/x', formatId: '18' });
    await server.stop();
    // A worker that starts during the outage waits instead of failing.
    const delivered: string[] = [];
    const consuming = queue.consume(async (p: JobPayload) => void delivered.push(p.jobId), {
      concurrency: 2,
      onDead: async () => {},
    });
    await sleep(1_500);
    expect(delivered).toEqual([]);
    await server.start();
    const consumer = await consuming;
    try {
      await until(() => delivered.length === ids.length, 15_000);
      expect([...delivered].sort()).toEqual([...ids].sort());
    } finally {
      await consumer.close(1_000);
      await queue.close();
    }
  });

  it('never logs the password', () => {
    expect(logLines.length).toBeGreaterThan(0);
    const all = logLines.join('\n');
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain(encodeURIComponent(PASSWORD));
  });
});

describe('createRedis with an unreachable host', () => {
  it('rejects store calls within 2 s instead of hanging', async () => {
    const redis = createRedis('redis://127.0.0.1:1/0', { role: 'test', logger: silentLogger });
    try {
      const store = createRedisJobStore(redis, { prefix: 'x:', jobTtlSeconds: 60 });
      expect(await timeRejection(store.create(jobFor()))).toBeLessThan(2_000);
    } finally {
      await closeRedis(redis);
    }
  });
});
