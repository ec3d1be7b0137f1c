import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobPayload } from '../../src/downloads/job.js';
import { createEmbeddedJobQueue } from '../../src/queue/embedded-job-queue.js';
import type { JobContext, JobHandler, JobQueue } from '../../src/queue/job-queue.js';
import { openDatabase, type Database } from '../../src/store/sqlite-database.js';
import { describeJobQueueContract } from './job-queue.contract.js';

const logger = pino({ level: 'silent' });

describeJobQueueContract('embedded', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ultra-dl-queue-'));
  const db = openDatabase(dir);
  const queue = createEmbeddedJobQueue(db, { logger });
  return {
    queue,
    // One process owns the embedded queue, so the other handle is the same queue.
    peer: async () => queue,
    cleanup: async () => {
      await queue.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

const payloadFor = (jobId = randomUUID()): JobPayload => ({
  jobId,
  url: 'https://youtu.be/abcdefghijk',
  formatId: '18',
});

/** Records deliveries and never settles unless aborted: what a process that dies mid-job leaves. */
function hangingHandler() {
  const seen: JobContext[] = [];
  const handler: JobHandler = (_payload, ctx) => {
    seen.push(ctx);
    return new Promise<void>((_resolve, reject) => {
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
    });
  };
  return { handler, seen };
}

describe('embedded job queue: durability in SQLite', () => {
  let dir: string;
  let opened: Database[];
  let queues: JobQueue[];

  /** Opens another connection and queue on the same file, as a restarted process would. */
  function start(maxAttempts?: number) {
    const db = openDatabase(dir);
    opened.push(db);
    const queue = createEmbeddedJobQueue(db, { logger, maxAttempts });
    queues.push(queue);
    return { db, queue };
  }

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ultra-dl-queue-'));
    opened = [];
    queues = [];
  });
  afterEach(async () => {
    for (const queue of queues) await queue.close();
    for (const db of opened) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers a job still pending when the process stopped after a restart', async () => {
    const first = start();
    const payload = payloadFor();
    await first.queue.enqueue(payload);
    await first.queue.close();
    first.db.close();
    opened = [];

    const second = start();
    expect(await second.queue.counts()).toEqual({ waiting: 1, active: 0 });
    const delivered: { payload: JobPayload; attempt: number }[] = [];
    await second.queue.consume(
      async (p, ctx) => {
        delivered.push({ payload: p, attempt: ctx.attempt });
      },
      { concurrency: 1, onDead: async () => {} },
    );
    await waitFor(() => delivered.length === 1, 'the delivery after restart');
    expect(delivered).toEqual([{ payload, attempt: 1 }]);
  });

  it('keeps a job handed back on shutdown at attempt 1 across a restart', async () => {
    const first = start();
    const hang = hangingHandler();
    const consumer = await first.queue.consume(hang.handler, { concurrency: 1, onDead: async () => {} });
    const payload = payloadFor();
    await first.queue.enqueue(payload);
    await waitFor(() => hang.seen.length === 1, 'the delivery');
    await consumer.close(0);
    await first.queue.close();

    const second = start();
    const again = hangingHandler();
    await second.queue.consume(again.handler, { concurrency: 1, onDead: async () => {} });
    await waitFor(() => again.seen.length === 1, 'the redelivery');
    expect(again.seen[0]!.attempt).toBe(1);
  });

  it('retries a job whose process died once, then gives it to onDead', async () => {
    const payload = payloadFor();
    const first = start();
    const crashed = hangingHandler();
    await first.queue.consume(crashed.handler, { concurrency: 1, onDead: async () => {} });
    await first.queue.enqueue(payload);
    await waitFor(() => crashed.seen.length === 1, 'the first delivery');
    expect(crashed.seen[0]!.attempt).toBe(1);
    // The first process is abandoned without close, as a crash leaves it.

    const second = start();
    const retried = hangingHandler();
    const deadInSecond: JobPayload[] = [];
    await second.queue.consume(retried.handler, {
      concurrency: 1,
      onDead: async (p) => {
        deadInSecond.push(p);
      },
    });
    await waitFor(() => retried.seen.length === 1, 'the retry');
    expect(retried.seen[0]!.attempt).toBe(2);
    expect(deadInSecond).toEqual([]);

    const third = start();
    const dead: JobPayload[] = [];
    const never = hangingHandler();
    await third.queue.consume(never.handler, {
      concurrency: 1,
      onDead: async (p) => {
        dead.push(p);
      },
    });
    expect(dead).toEqual([payload]);
    expect(await third.queue.counts()).toEqual({ waiting: 0, active: 0 });
    await sleep(100);
    expect(never.seen).toHaveLength(0);
  });

  it('gives a crashed job straight to onDead when maxAttempts is 1', async () => {
    const payload = payloadFor();
    const first = start(1);
    const crashed = hangingHandler();
    await first.queue.consume(crashed.handler, { concurrency: 1, onDead: async () => {} });
    await first.queue.enqueue(payload);
    await waitFor(() => crashed.seen.length === 1, 'the delivery');

    const second = start(1);
    const dead: JobPayload[] = [];
    await second.queue.consume(hangingHandler().handler, {
      concurrency: 1,
      onDead: async (p) => {
        dead.push(p);
      },
    });
    expect(dead).toEqual([payload]);
  });

  it('keeps a dead job for the next start when onDead fails', async () => {
    const payload = payloadFor();
    const first = start(1);
    const crashed = hangingHandler();
    await first.queue.consume(crashed.handler, { concurrency: 1, onDead: async () => {} });
    await first.queue.enqueue(payload);
    await waitFor(() => crashed.seen.length === 1, 'the delivery');

    const second = start(1);
    await second.queue.consume(hangingHandler().handler, {
      concurrency: 1,
      onDead: async () => {
        throw new Error('store unreachable');
      },
    });
    expect(await second.queue.counts()).toEqual({ waiting: 0, active: 1 });

    const third = start(1);
    const dead: JobPayload[] = [];
    await third.queue.consume(hangingHandler().handler, {
      concurrency: 1,
      onDead: async (p) => {
        dead.push(p);
      },
    });
    expect(dead).toEqual([payload]);
    expect(await third.queue.counts()).toEqual({ waiting: 0, active: 0 });
  });

  it('cancels a job left active by a dead process', async () => {
    const payload = payloadFor();
    const first = start();
    const crashed = hangingHandler();
    await first.queue.consume(crashed.handler, { concurrency: 1, onDead: async () => {} });
    await first.queue.enqueue(payload);
    await waitFor(() => crashed.seen.length === 1, 'the delivery');

    const second = start();
    expect(await second.queue.cancel(payload.jobId)).toBe(true);
    expect(await second.queue.counts()).toEqual({ waiting: 0, active: 0 });
  });

  it('wakes a consumer within milliseconds of enqueue, without polling', async () => {
    const { queue } = start();
    const deliveredAt: number[] = [];
    await queue.consume(
      async () => {
        deliveredAt.push(performance.now());
      },
      { concurrency: 1, onDead: async () => {} },
    );
    // The median of several idle-consumer wake-ups: one sample could be a scheduling hiccup on a
    // loaded machine, while any polling loop would put the median near half its period.
    const latencies: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      await sleep(20);
      const enqueuedAt = performance.now();
      await queue.enqueue(payloadFor());
      await waitFor(() => deliveredAt.length === i + 1, 'the delivery');
      latencies.push(deliveredAt[i]! - enqueuedAt);
    }
    latencies.sort((a, b) => a - b);
    expect(latencies[3]).toBeLessThan(10);
  });

  it('refuses consume after close and a concurrency below 1', async () => {
    const { queue } = start();
    const handler = hangingHandler().handler;
    await expect(queue.consume(handler, { concurrency: 0, onDead: async () => {} })).rejects.toThrow(
      /concurrency/,
    );
    await queue.close();
    await expect(queue.consume(handler, { concurrency: 1, onDead: async () => {} })).rejects.toThrow();
  });

  it('hands running jobs back when the whole queue is closed', async () => {
    const { queue } = start();
    const hang = hangingHandler();
    await queue.consume(hang.handler, { concurrency: 2, onDead: async () => {} });
    await queue.enqueue(payloadFor());
    await queue.enqueue(payloadFor());
    await waitFor(() => hang.seen.length === 2, 'two deliveries');
    await queue.close();
    expect(hang.seen.map((ctx) => ctx.signal.reason)).toEqual(['shutdown', 'shutdown']);
    expect(await queue.counts()).toEqual({ waiting: 2, active: 0 });
    expect(await queue.hasLiveWorker()).toBe(false);
  });

  it('deletes a job cancelled after its shutdown abort instead of handing it back', async () => {
    const { queue } = start();
    const payload = payloadFor();
    let release!: () => void;
    const seen: JobContext[] = [];
    const consumer = await queue.consume(
      (_p, ctx) => {
        seen.push(ctx);
        // Settles only when the test says so, after the shutdown abort and the cancel.
        return new Promise<void>((_resolve, reject) => {
          release = () => reject(ctx.signal.reason);
        });
      },
      { concurrency: 1, onDead: async () => {} },
    );
    await queue.enqueue(payload);
    await waitFor(() => seen.length === 1, 'the delivery');
    const closing = consumer.close(0);
    await waitFor(() => seen[0]!.signal.aborted, 'the shutdown abort');
    expect(await queue.cancel(payload.jobId)).toBe(true);
    release();
    await closing;
    expect(await queue.counts()).toEqual({ waiting: 0, active: 0 });
  });
});
