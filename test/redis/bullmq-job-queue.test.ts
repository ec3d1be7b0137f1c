import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobPayload } from '../../src/downloads/job.js';
import { createBullmqJobQueue } from '../../src/queue/bullmq-job-queue.js';
import type { JobContext, JobQueue } from '../../src/queue/job-queue.js';
import { TEST_REDIS_URL, deleteKeys, silentLogger, uniquePrefix } from './redis-test-env.js';

const LOCK_MS = 1_000;
const STALLED_MS = 500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const payloadOf = (jobId: string = randomUUID()): JobPayload => ({ jobId, url: 'https://youtu.be/x', formatId: '18' });
const noDead = async () => {};

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}

/** Resolves when the handler's signal aborts, rejecting with its reason like a real handler. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

describe('BullMQ job queue', () => {
  let prefix: string;
  const queues: JobQueue[] = [];
  const children: ChildProcess[] = [];

  const makeQueue = () => {
    const queue = createBullmqJobQueue({
      url: TEST_REDIS_URL,
      prefix,
      logger: silentLogger,
      lockDurationMs: LOCK_MS,
      stalledIntervalMs: STALLED_MS,
    });
    queues.push(queue);
    return queue;
  };

  beforeEach(() => {
    prefix = uniquePrefix();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    await Promise.all(queues.splice(0).map((q) => q.close()));
    await deleteKeys(TEST_REDIS_URL, prefix);
  });

  it('delivers the payload under the ultra-dl job id, first attempt 1', async () => {
    const queue = makeQueue();
    const payload = payloadOf();
    await queue.enqueue(payload);
    expect(await queue.counts()).toEqual({ waiting: 1, active: 0 });
    const seen: [JobPayload, JobContext][] = [];
    await queue.consume(async (p, ctx) => void seen.push([p, ctx]), { concurrency: 1, onDead: noDead });
    await until(() => seen.length === 1, 5_000);
    expect(seen[0]![0]).toEqual(payload);
    expect(seen[0]![1]).toMatchObject({ jobId: payload.jobId, attempt: 1 });
  });

  it('keeps BullMQ keys under the prefix, named by the job id', async () => {
    const queue = makeQueue();
    const payload = payloadOf();
    await queue.enqueue(payload);
    const { Redis } = await import('ioredis');
    const redis = new Redis(TEST_REDIS_URL);
    try {
      expect(await redis.exists(`${prefix}bull:downloads:${payload.jobId}`)).toBe(1);
    } finally {
      redis.disconnect();
    }
  });

  it('runs at most `concurrency` jobs at once per consumer and reports them active', async () => {
    const queue = makeQueue();
    let running = 0;
    let peak = 0;
    let done = 0;
    const release: (() => void)[] = [];
    for (let i = 0; i < 4; i++) await queue.enqueue(payloadOf());
    await queue.consume(
      async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => release.push(resolve));
        running -= 1;
        done += 1;
      },
      { concurrency: 2, onDead: noDead },
    );
    await until(() => release.length === 2, 5_000);
    await sleep(300);
    expect(running).toBe(2);
    expect(await queue.counts()).toEqual({ waiting: 2, active: 2 });
    while (done < 4) {
      release.shift()?.();
      await sleep(50);
    }
    expect(peak).toBe(2);
  });

  it('says whether a live consumer exists', async () => {
    const queue = makeQueue();
    expect(await queue.hasLiveWorker()).toBe(false);
    const consumer = await queue.consume(async () => {}, { concurrency: 1, onDead: noDead });
    expect(await makeQueue().hasLiveWorker()).toBe(true);
    await consumer.close(1_000);
    expect(await queue.hasLiveWorker()).toBe(false);
  });

  it('removes a waiting job on cancel, so it never runs', async () => {
    const queue = makeQueue();
    const payload = payloadOf();
    await queue.enqueue(payload);
    expect(await queue.cancel(payload.jobId)).toBe(true);
    expect(await queue.cancel(randomUUID())).toBe(false);
    const seen: string[] = [];
    await queue.consume(async (p) => void seen.push(p.jobId), { concurrency: 1, onDead: noDead });
    await queue.enqueue(payloadOf('after'));
    await until(() => seen.includes('after'), 5_000);
    expect(seen).toEqual(['after']);
  });

  it('aborts a job running on another process’s worker with `cancelled` within 2 s', async () => {
    const api = makeQueue();
    const worker = makeQueue();
    const payload = payloadOf();
    let started = false;
    let reason: unknown = null;
    await worker.consume(
      async (_p, ctx) => {
        started = true;
        await untilAborted(ctx.signal).catch((r: unknown) => {
          reason = r;
        });
      },
      { concurrency: 1, onDead: noDead },
    );
    await api.enqueue(payload);
    await until(() => started, 5_000);
    const t0 = Date.now();
    expect(await api.cancel(payload.jobId)).toBe(true);
    await until(() => reason !== null, 2_000);
    expect(reason).toBe('cancelled');
    expect(Date.now() - t0).toBeLessThan(2_000);
    await until(async () => (await api.counts()).active === 0, 3_000);
  });

  it('lets running jobs finish within the grace period on close', async () => {
    const queue = makeQueue();
    let finished = false;
    let aborted = false;
    await queue.enqueue(payloadOf());
    let started = false;
    const consumer = await queue.consume(
      async (_p, ctx) => {
        started = true;
        ctx.signal.addEventListener('abort', () => (aborted = true));
        await sleep(400);
        finished = true;
      },
      { concurrency: 1, onDead: noDead },
    );
    await until(() => started, 5_000);
    await consumer.close(5_000);
    expect(finished).toBe(true);
    expect(aborted).toBe(false);
  });

  it('stops taking jobs on close and hands a running job back without using its retry', async () => {
    const queue = makeQueue();
    const payload = payloadOf();
    let reason: unknown = null;
    const first = await queue.consume(
      (_p, ctx) => untilAborted(ctx.signal).catch((r: unknown) => {
        reason = r;
        throw r;
      }),
      { concurrency: 1, onDead: noDead },
    );
    await queue.enqueue(payload);
    await until(async () => (await queue.counts()).active === 1, 5_000);
    const t0 = Date.now();
    await first.close(300);
    expect(reason).toBe('shutdown');
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(await queue.counts()).toEqual({ waiting: 1, active: 0 });

    const attempts: number[] = [];
    const dead: string[] = [];
    await makeQueue().consume(async (_p, ctx) => void attempts.push(ctx.attempt), {
      concurrency: 1,
      onDead: async (p) => void dead.push(p.jobId),
    });
    await until(() => attempts.length === 1, 5_000);
    expect(attempts).toEqual([1]);
    expect(dead).toEqual([]);
  });

  it('refuses to enqueue after close', async () => {
    const queue = makeQueue();
    await queue.close();
    await expect(queue.enqueue(payloadOf())).rejects.toThrow();
  });

  describe('a worker process killed with SIGKILL mid-job', () => {
    const fixture = fileURLToPath(new URL('./fixtures/stalling-worker.mjs', import.meta.url));

    /** Starts a worker process, waits until it took a job, and kills it. */
    async function killWorkerMidJob(): Promise<{ active: string; stalledCounter: number }> {
      const child = spawn(
        process.execPath,
        [fixture, TEST_REDIS_URL, `${prefix}bull`, 'downloads', String(LOCK_MS), String(STALLED_MS), '1'],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      children.push(child);
      const lines = createInterface({ input: child.stdout! });
      const taken = await new Promise<{ active: string; stalledCounter: number }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('child took no job')), 15_000);
        lines.on('line', (line) => {
          if (!line.startsWith('{')) return;
          clearTimeout(timer);
          resolve(JSON.parse(line) as { active: string; stalledCounter: number });
        });
      });
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
      return taken;
    }

    it('retries the job once on another worker, as attempt 2', async () => {
      const queue = makeQueue();
      const payload = payloadOf();
      await queue.enqueue(payload);
      expect((await killWorkerMidJob()).active).toBe(payload.jobId);

      const attempts: number[] = [];
      const dead: string[] = [];
      const t0 = Date.now();
      await queue.consume(async (p, ctx) => void attempts.push(ctx.attempt), {
        concurrency: 1,
        onDead: async (p) => void dead.push(p.jobId),
      });
      // Bounded: the lock expires after LOCK_MS and the stalled check runs every STALLED_MS.
      await until(() => attempts.length === 1, LOCK_MS + 4 * STALLED_MS + 2_000);
      expect(Date.now() - t0).toBeLessThan(LOCK_MS + 4 * STALLED_MS + 2_000);
      expect(attempts).toEqual([2]);
      expect(dead).toEqual([]);
    });

    it('hands the job to onDead, without running it, when its retry dies too', async () => {
      const queue = makeQueue();
      const payload = payloadOf();
      await queue.enqueue(payload);
      expect(await killWorkerMidJob()).toEqual({ active: payload.jobId, stalledCounter: 0 });
      expect(await killWorkerMidJob()).toEqual({ active: payload.jobId, stalledCounter: 1 });

      const ran: string[] = [];
      const dead: JobPayload[] = [];
      await queue.consume(async (p) => void ran.push(p.jobId), {
        concurrency: 1,
        onDead: async (p) => void dead.push(p),
      });
      await until(() => dead.length === 1, LOCK_MS + 4 * STALLED_MS + 2_000);
      await sleep(300);
      expect(dead).toEqual([payload]);
      expect(ran).toEqual([]);
      expect(await queue.counts()).toEqual({ waiting: 0, active: 0 });
    });
  });
});
