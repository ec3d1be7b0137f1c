/**
 * The JobQueue contract (SPEC §3): FIFO delivery, the concurrency bound, cancel of waiting and
 * running jobs (also through a second handle, as another process would cancel), graceful hand-back
 * on shutdown without using up the retry, counts and liveness.
 *
 * Each factory call must give an empty queue; `cleanup` closes the queue and every peer handed out.
 * Crash recovery cannot be simulated the same way for every adapter, so each adapter's own test
 * file covers it.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobPayload } from '../../src/downloads/job.js';
import type {
  ConsumeOptions,
  Consumer,
  JobContext,
  JobHandler,
  JobQueue,
} from '../../src/queue/job-queue.js';

export type JobQueueFactory = () => Promise<{
  queue: JobQueue;
  /** A second handle on the same queue, as another process would have it. */
  peer(): Promise<JobQueue>;
  cleanup(): Promise<void>;
}>;

/** How long a delivery may take in the worst case on a loaded 2-core machine. */
const DELIVERY_TIMEOUT_MS = 5_000;
/** How long to watch for a delivery that must not happen. */
const QUIET_MS = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function payloadFor(jobId = randomUUID()): JobPayload {
  return { jobId, url: `https://youtu.be/${jobId.slice(0, 11)}`, formatId: '18' };
}

interface Delivery {
  payload: JobPayload;
  ctx: JobContext;
  finish(): void;
  fail(err: Error): void;
  settled: boolean;
}

/**
 * A handler the test steers: each delivery stays running until the test finishes or fails it, or
 * `autoFinishMs` passes; an abort rejects it with the signal's reason, as the real handler does.
 */
function createProbe(options: { autoFinishMs?: number } = {}) {
  const deliveries: Delivery[] = [];
  const dead: JobPayload[] = [];
  let running = 0;
  let maxRunning = 0;
  const handler: JobHandler = (payload, ctx) => {
    running += 1;
    maxRunning = Math.max(maxRunning, running);
    return new Promise<void>((resolve, reject) => {
      const delivery: Delivery = { payload, ctx, finish: resolve, fail: reject, settled: false };
      deliveries.push(delivery);
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
      if (options.autoFinishMs !== undefined) setTimeout(resolve, options.autoFinishMs);
    }).finally(() => {
      running -= 1;
      const d = deliveries.find((x) => x.ctx === ctx);
      if (d) d.settled = true;
    });
  };
  const consumeOptions = (concurrency: number): ConsumeOptions => ({
    concurrency,
    onDead: async (payload) => {
      dead.push(payload);
    },
  });
  return {
    handler,
    deliveries,
    dead,
    consumeOptions,
    get running() {
      return running;
    },
    get maxRunning() {
      return maxRunning;
    },
    ids: () => deliveries.map((d) => d.payload.jobId),
  };
}

export function describeJobQueueContract(name: string, factory: JobQueueFactory): void {
  describe(`JobQueue contract: ${name}`, () => {
    let queue: JobQueue;
    let peer: () => Promise<JobQueue>;
    let cleanup: () => Promise<void>;
    let open: Consumer[];

    /** Starts a consumer that afterEach closes if the test did not. */
    async function consume(q: JobQueue, handler: JobHandler, options: ConsumeOptions) {
      const consumer = await q.consume(handler, options);
      open.push(consumer);
      return {
        close: async (graceMs: number) => {
          open = open.filter((c) => c !== consumer);
          await consumer.close(graceMs);
        },
      };
    }

    beforeEach(async () => {
      open = [];
      ({ queue, peer, cleanup } = await factory());
    });
    afterEach(async () => {
      for (const consumer of open) await consumer.close(0);
      await cleanup();
    });

    describe('delivery', () => {
      it('delivers the payload with its job id, attempt 1 and a live signal', async () => {
        const probe = createProbe();
        await consume(queue, probe.handler, probe.consumeOptions(1));
        const payload = payloadFor();
        await queue.enqueue(payload);
        await waitFor(() => probe.deliveries.length === 1, 'the delivery');
        const [d] = probe.deliveries;
        expect(d!.payload).toEqual(payload);
        expect(d!.ctx.jobId).toBe(payload.jobId);
        expect(d!.ctx.attempt).toBe(1);
        expect(d!.ctx.signal.aborted).toBe(false);
      });

      it('removes a job once its handler resolves and never delivers it again', async () => {
        const probe = createProbe({ autoFinishMs: 0 });
        await consume(queue, probe.handler, probe.consumeOptions(1));
        await queue.enqueue(payloadFor());
        await waitFor(() => probe.deliveries[0]?.settled === true, 'the handler to finish');
        await waitFor(async () => (await queue.counts()).active === 0, 'the job to leave active');
        await sleep(QUIET_MS);
        expect(probe.deliveries).toHaveLength(1);
        expect(await queue.counts()).toEqual({ waiting: 0, active: 0 });
      });

      it('removes a job whose handler rejects, without delivering it again', async () => {
        const probe = createProbe();
        await consume(queue, probe.handler, probe.consumeOptions(1));
        await queue.enqueue(payloadFor());
        await waitFor(() => probe.deliveries.length === 1, 'the delivery');
        probe.deliveries[0]!.fail(new Error('handler bug'));
        await waitFor(async () => (await queue.counts()).active === 0, 'the job to leave active');
        await sleep(QUIET_MS);
        expect(probe.deliveries).toHaveLength(1);
        expect(probe.dead).toEqual([]);
        expect(await queue.counts()).toEqual({ waiting: 0, active: 0 });
      });

      it('delivers jobs enqueued before the consumer started, in FIFO order', async () => {
        const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
        for (const id of ids) await queue.enqueue(payloadFor(id));
        const probe = createProbe({ autoFinishMs: 0 });
        await consume(queue, probe.handler, probe.consumeOptions(1));
        await waitFor(() => probe.deliveries.length === ids.length, 'all deliveries');
        expect(probe.ids()).toEqual(ids);
      });

      it('keeps FIFO order for jobs that wait behind a busy consumer', async () => {
        const probe = createProbe();
        await consume(queue, probe.handler, probe.consumeOptions(1));
        const first = randomUUID();
        await queue.enqueue(payloadFor(first));
        await waitFor(() => probe.deliveries.length === 1, 'the first delivery');
        const rest = [randomUUID(), randomUUID(), randomUUID()];
        for (const id of rest) await queue.enqueue(payloadFor(id));
        for (let i = 0; i <= rest.length; i += 1) {
          await waitFor(() => probe.deliveries.length === i + 1, `delivery ${i + 1}`);
          probe.deliveries[i]!.finish();
        }
        expect(probe.ids()).toEqual([first, ...rest]);
      });

      it('wakes an idle consumer as soon as a job is enqueued', async () => {
        const probe = createProbe();
        await consume(queue, probe.handler, probe.consumeOptions(1));
        await sleep(100);
        const start = Date.now();
        await queue.enqueue(payloadFor());
        await waitFor(() => probe.deliveries.length === 1, 'the delivery');
        expect(Date.now() - start).toBeLessThan(1_000);
      });

      it('runs at most `concurrency` handlers at once, and uses that many', async () => {
        const probe = createProbe({ autoFinishMs: 60 });
        for (let i = 0; i < 6; i += 1) await queue.enqueue(payloadFor());
        await consume(queue, probe.handler, probe.consumeOptions(2));
        await waitFor(() => probe.deliveries.filter((d) => d.settled).length === 6, 'all six');
        expect(probe.maxRunning).toBe(2);
      });

      it('treats a second enqueue of the same job id as the same job', async () => {
        const payload = payloadFor();
        await queue.enqueue(payload);
        await queue.enqueue(payload);
        expect(await queue.counts()).toEqual({ waiting: 1, active: 0 });
        const probe = createProbe({ autoFinishMs: 0 });
        await consume(queue, probe.handler, probe.consumeOptions(2));
        await waitFor(() => probe.deliveries.length === 1, 'the delivery');
        await sleep(QUIET_MS);
        expect(probe.deliveries).toHaveLength(1);
      });

      it('delivers a job enqueued through another handle', async () => {
        const probe = createProbe();
        await consume(queue, probe.handler, probe.consumeOptions(1));
        const other = await peer();
        const payload = payloadFor();
        await other.enqueue(payload);
        await waitFor(() => probe.deliveries.length === 1, 'the delivery');
        expect(probe.deliveries[0]!.payload).toEqual(payload);
      });
    });

    describe('counts and liveness', () => {
      it('counts waiting and active jobs', async () => {
        expect(await queue.counts()).toEqual({ waiting: 0, active: 0 });
        for (let i = 0; i < 3; i += 1) await queue.enqueue(payloadFor());
        expect(await queue.counts()).toEqual({ waiting: 3, active: 0 });
        const probe = createProbe();
        await consume(queue, probe.handler, probe.consumeOptions(1));
        await waitFor(() => probe.deliveries.length === 1, 'the delivery');
        await waitFor(async () => (await queue.counts()).active === 1, 'one active');
        expect(await queue.counts()).toEqual({ waiting: 2, active: 1 });
      });

      it('reports a live worker only while a consumer is open', async () => {
        expect(await queue.hasLiveWorker()).toBe(false);
        const probe = createProbe();
        const consumer = await consume(queue, probe.handler, probe.consumeOptions(1));
        await waitFor(() => queue.hasLiveWorker(), 'the worker to be seen');
        await consumer.close(0);
        await waitFor(async () => !(await queue.hasLiveWorker()), 'the worker to be gone');
      });
    });

    describe('cancel', () => {
      it('removes a waiting job so that it is never delivered', async () => {
        const keep = payloadFor();
        const drop = payloadFor();
        await queue.enqueue(drop);
        await queue.enqueue(keep);
        expect(await queue.cancel(drop.jobId)).toBe(true);
        expect(await queue.counts()).toEqual({ waiting: 1, active: 0 });
        const probe = createProbe({ autoFinishMs: 0 });
        await consume(queue, probe.handler, probe.consumeOptions(2));
        await waitFor(() => probe.deliveries.length === 1, 'the kept delivery');
        await sleep(QUIET_MS);
        expect(probe.ids()).toEqual([keep.jobId]);
      });

      it("aborts a running job's signal with 'cancelled' and drops the job", async () => {
        const probe = createProbe();
        await consume(queue, probe.handler, probe.consumeOptions(1));
        const payload = payloadFor();
        await queue.enqueue(payload);
        await waitFor(() => probe.deliveries.length === 1, 'the delivery');
        expect(await queue.cancel(payload.jobId)).toBe(true);
        const { signal } = probe.deliveries[0]!.ctx;
        await waitFor(() => signal.aborted, 'the abort');
        expect(signal.reason).toBe('cancelled');
        await waitFor(async () => (await queue.counts()).active === 0, 'the job to leave active');
        await sleep(QUIET_MS);
        expect(probe.deliveries).toHaveLength(1);
        expect(await queue.counts()).toEqual({ waiting: 0, active: 0 });
      });

      it('aborts a running job when cancelled through another handle', async () => {
        const probe = createProbe();
        await consume(queue, probe.handler, probe.consumeOptions(1));
        const payload = payloadFor();
        await queue.enqueue(payload);
        await waitFor(() => probe.deliveries.length === 1, 'the delivery');
        const other = await peer();
        expect(await other.cancel(payload.jobId)).toBe(true);
        const { signal } = probe.deliveries[0]!.ctx;
        await waitFor(() => signal.aborted, 'the abort');
        expect(signal.reason).toBe('cancelled');
      });

      it('lets the next job run once a cancelled one settled', async () => {
        const probe = createProbe();
        await consume(queue, probe.handler, probe.consumeOptions(1));
        const a = payloadFor();
        const b = payloadFor();
        await queue.enqueue(a);
        await queue.enqueue(b);
        await waitFor(() => probe.deliveries.length === 1, 'the first delivery');
        await queue.cancel(a.jobId);
        await waitFor(() => probe.deliveries.length === 2, 'the second delivery');
        expect(probe.ids()).toEqual([a.jobId, b.jobId]);
      });

      it('answers false for a job it does not know', async () => {
        expect(await queue.cancel(randomUUID())).toBe(false);
      });

      it('answers false for a job that already finished', async () => {
        const probe = createProbe({ autoFinishMs: 0 });
        await consume(queue, probe.handler, probe.consumeOptions(1));
        const payload = payloadFor();
        await queue.enqueue(payload);
        await waitFor(() => probe.deliveries[0]?.settled === true, 'the handler to finish');
        await waitFor(async () => (await queue.counts()).active === 0, 'the job to leave active');
        expect(await queue.cancel(payload.jobId)).toBe(false);
      });
    });

    describe('graceful close', () => {
      it('lets a running job finish within the grace period and does not requeue it', async () => {
        const probe = createProbe({ autoFinishMs: 150 });
        const consumer = await consume(queue, probe.handler, probe.consumeOptions(1));
        await queue.enqueue(payloadFor());
        await waitFor(() => probe.deliveries.length === 1, 'the delivery');
        await consumer.close(3_000);
        const d = probe.deliveries[0]!;
        expect(d.settled).toBe(true);
        expect(d.ctx.signal.aborted).toBe(false);
        expect(await queue.counts()).toEqual({ waiting: 0, active: 0 });
      });

      it("aborts jobs still running after the grace with 'shutdown' and requeues them without using a retry", async () => {
        const probe = createProbe();
        const consumer = await consume(queue, probe.handler, probe.consumeOptions(2));
        const payload = payloadFor();
        await queue.enqueue(payload);
        await waitFor(() => probe.deliveries.length === 1, 'the delivery');
        await consumer.close(50);
        const { signal } = probe.deliveries[0]!.ctx;
        expect(signal.aborted).toBe(true);
        expect(signal.reason).toBe('shutdown');
        expect(await queue.counts()).toEqual({ waiting: 1, active: 0 });

        const next = createProbe();
        await consume(await peer(), next.handler, next.consumeOptions(1));
        await waitFor(() => next.deliveries.length === 1, 'the redelivery');
        expect(next.deliveries[0]!.payload).toEqual(payload);
        expect(next.deliveries[0]!.ctx.attempt).toBe(1);
        expect(next.dead).toEqual([]);
        expect(probe.dead).toEqual([]);
      });

      it('takes no new jobs once closed', async () => {
        const probe = createProbe({ autoFinishMs: 0 });
        const consumer = await consume(queue, probe.handler, probe.consumeOptions(1));
        await consumer.close(0);
        await queue.enqueue(payloadFor());
        await sleep(QUIET_MS);
        expect(probe.deliveries).toHaveLength(0);
        expect(await queue.counts()).toEqual({ waiting: 1, active: 0 });
      });

      it('refuses enqueue after the queue was closed', async () => {
        await queue.close();
        await expect(queue.enqueue(payloadFor())).rejects.toThrow();
      });
    });
  });
}
