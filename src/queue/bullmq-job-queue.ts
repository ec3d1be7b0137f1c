/**
 * JobQueue on BullMQ (distributed mode, SPEC §3). The BullMQ job id is the ultra-dl job id.
 *
 * - A worker that dies (SIGKILL) leaves its job's lock to expire; BullMQ's stalled check hands the
 *   job to another worker once (`maxStalledCount`), and fails it the next time; that `failed`
 *   event (the only kind: handler rejections complete the job) reaches `onDead` once cluster-wide
 *   through a Redis SET NX marker.
 * - A graceful shutdown moves running jobs back to waiting with their lock token, which costs
 *   neither an attempt nor a stall, so the retry stays available.
 * - Cancel of a running job is a message on `<prefix>queue:cancel` that every worker listens to,
 *   plus a short-lived marker for a job that was being picked up at that moment.
 */
import { randomUUID } from 'node:crypto';
import { Queue, WaitingError, Worker, type Job as BullJob } from 'bullmq';
import type { Logger } from 'pino';
import type { JobPayload } from '../downloads/job.js';
import { AppError } from '../errors.js';
import { closeRedis, createRedis, isConnectionError, redisCall } from '../redis/redis-connection.js';
import { defineScript } from '../redis/redis-script.js';
import type { ConsumeOptions, Consumer, JobHandler, JobQueue, QueueCounts } from './job-queue.js';
import { settlesWithin } from '../time-limits.js';

export interface BullmqJobQueueOptions {
  /** `redis://[:password@]host[:port][/db]` */
  url: string;
  /** Our key prefix (e.g. `ultradl:`); BullMQ's keys go under `<prefix>bull:`. */
  prefix: string;
  logger: Logger;
  /** Deliveries a job may get when workers die under it: 2 = the first plus one retry. */
  maxAttempts?: number;
  /** How long a worker's lock on a job lasts without renewal (ms); bounds crash detection. */
  lockDurationMs?: number;
  /** How often workers look for jobs whose lock expired (ms). */
  stalledIntervalMs?: number;
  queueName?: string;
}

const DEFAULT_LOCK_DURATION_MS = 10_000;
const DEFAULT_STALLED_INTERVAL_MS = 5_000;
/** A cancel that arrives while the job is being picked up must still reach it. */
const CANCEL_MARKER_TTL_MS = 60_000;
/** The dead marker only has to outlive the failed event's delivery to every worker. */
const DEAD_MARKER_TTL_SECONDS = 24 * 3600;
/** A worker counts as alive while its heartbeat key exists. */
const HEARTBEAT_TTL_MS = 10_000;
const HEARTBEAT_EVERY_MS = 3_000;
/** A close step that needs Redis waits at most this long, so shutdown never hangs on an outage. */
const CLOSE_STEP_MS = 1_000;
/** The same for a close while Redis answers: long enough for a loaded machine. */
const LIVE_CLOSE_MS = 5_000;
/** After aborting running jobs at the end of the grace period, how long they get to hand back. */
/** Within the runtime's 3 s shutdown margin, so the process exits inside SHUTDOWN_GRACE_SECONDS. */
const ABORT_SETTLE_MS = 2_000;

// KEYS: worker-set. ARGV: heartbeat key prefix. Drops workers whose heartbeat expired.
const COUNT_LIVE_WORKERS = defineScript(`
local live = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. id) == 1 then live = live + 1
  else redis.call('SREM', KEYS[1], id) end
end
return live`);

/**
 * The distributed JobQueue. It opens its own connections from `url`: a fail-fast one for enqueue,
 * cancel and counts (503 within 2 s while Redis is down), and per consumer a waiting one for the
 * BullMQ worker plus a subscriber for cancels.
 */
export function createBullmqJobQueue(options: BullmqJobQueueOptions): JobQueue {
  const { url, prefix, logger } = options;
  const maxAttempts = options.maxAttempts ?? 2;
  const queueName = options.queueName ?? 'downloads';
  const bullPrefix = `${prefix}bull`;
  const keys = {
    cancelChannel: `${prefix}queue:cancel`,
    cancelled: (id: string) => `${prefix}queue:cancelled:${id}`,
    dead: (id: string) => `${prefix}queue:dead:${id}`,
    workers: `${prefix}queue:workers`,
    heartbeat: `${prefix}queue:worker:`,
  };

  // Request-path connection: fails fast while Redis is down (enqueue, cancel, counts).
  const client = createRedis(url, { role: 'queue', logger });
  const queue = new Queue<JobPayload>(queueName, {
    connection: client,
    prefix: bullPrefix,
    defaultJobOptions: {
      // Failures are recorded by the handler itself; only worker deaths are retried (stalls).
      attempts: 1,
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600, count: 1000 },
    },
  });
  queue.on('error', (err) => logger.warn({ err }, 'queue error'));
  const consumers = new Set<Consumer>();
  let closed = false;

  async function consume(handler: JobHandler, consumeOptions: ConsumeOptions): Promise<Consumer> {
    if (closed) throw new AppError('system_error', { status: 503, detail: 'queue closed' });
    const workerId = randomUUID();
    const log = logger.child({ workerId });
    // Long-lived connections: they wait for Redis instead of failing (workers wait, SPEC §1).
    const connection = createRedis(url, { role: 'worker', logger, forBullmq: true });
    const subscriber = createRedis(url, { role: 'worker-cancel', logger, forBullmq: true });
    const running = new Map<string, AbortController>();

    subscriber.on('message', (_channel: string, jobId: string) => {
      running.get(jobId)?.abort('cancelled');
    });
    await subscriber.subscribe(keys.cancelChannel);

    const beat = async (first = false) => {
      // While Redis is down a beat would only pile up in the offline queue; the first one waits
      // for Redis, so a consumer counts as live as soon as consume() resolves.
      if (!first && connection.status !== 'ready') return;
      await connection
        .multi()
        .set(keys.heartbeat + workerId, '1', 'PX', HEARTBEAT_TTL_MS)
        .sadd(keys.workers, workerId)
        .exec()
        .catch((err: unknown) => log.debug({ err }, 'heartbeat failed'));
    };
    await beat(true);
    const heartbeat = setInterval(() => void beat(), HEARTBEAT_EVERY_MS);
    heartbeat.unref();

    const processor = async (job: BullJob<JobPayload>, token?: string): Promise<void> => {
      const jobId = job.id as string;
      const controller = new AbortController();
      running.set(jobId, controller);
      try {
        if ((await connection.exists(keys.cancelled(jobId))) === 1) controller.abort('cancelled');
        await handler(job.data, {
          jobId,
          // A stall (a worker died under the job) is what a retry means here.
          attempt: 1 + (job.stalledCounter ?? 0),
          signal: controller.signal,
        });
      } catch (err) {
        const reason: unknown = controller.signal.aborted ? controller.signal.reason : null;
        if (reason === 'shutdown' && token) {
          await job.moveToWait(token);
          throw new WaitingError();
        }
        // A cancelled job was recorded (deleted) by its canceller: nothing to fail.
        if (reason === 'cancelled') return;
        if (token && isRedisOutage(err)) {
          // Redis went away before the handler could record the job's end: its result is lost,
          // so the job runs again once Redis is back instead of staying `processing` forever.
          log.warn({ jobId }, 'job could not record its final state while Redis was down; requeueing it');
          await job.moveToWait(token);
          throw new WaitingError();
        }
        // Handlers record their own failures; a rejection is a bug to see in the logs, and running
        // it again would not fix it. The job leaves the queue like a finished one.
        log.error({ err, jobId }, 'job handler rejected without recording a final state');
      } finally {
        running.delete(jobId);
      }
    };

    const worker = new Worker<JobPayload>(queueName, processor, {
      connection,
      prefix: bullPrefix,
      concurrency: consumeOptions.concurrency,
      lockDuration: options.lockDurationMs ?? DEFAULT_LOCK_DURATION_MS,
      stalledInterval: options.stalledIntervalMs ?? DEFAULT_STALLED_INTERVAL_MS,
      maxStalledCount: Math.max(0, maxAttempts - 1),
    });
    worker.on('error', (err) => log.warn({ err }, 'worker error'));
    worker.on('stalled', (jobId) => log.warn({ jobId }, 'job stalled; its worker died, handing it on'));
    worker.on('failed', (job, err) => {
      if (!job) return;
      void (async () => {
        const first = await connection.set(keys.dead(job.id as string), '1', 'EX', DEAD_MARKER_TTL_SECONDS, 'NX');
        if (first !== 'OK') return;
        log.warn({ jobId: job.id, err: { message: err.message } }, 'job lost its workers too often; marking it dead');
        await consumeOptions.onDead(job.data);
      })().catch((e: unknown) => log.error({ err: e, jobId: job.id }, 'onDead failed'));
    });

    let closing: Promise<void> | null = null;
    const consumer: Consumer = {
      close(graceMs) {
        closing ??= (async () => {
          consumers.delete(consumer);
          // worker.close() stops fetching at once and resolves when running jobs are done.
          const done = worker.close();
          if (!(await settlesWithin(done, graceMs))) {
            log.info({ jobs: [...running.keys()] }, 'grace period over; handing running jobs back');
            for (const controller of running.values()) controller.abort('shutdown');
            if (!(await settlesWithin(done, ABORT_SETTLE_MS))) {
              // A handler that ignores its signal: drop the connections; the jobs' locks expire and
              // the stalled check hands them to another worker.
              log.error({ jobs: [...running.keys()] }, 'running jobs did not stop; leaving them to stall');
            }
          }
          clearInterval(heartbeat);
          // Bounded: with Redis down the heartbeat key simply expires on its own.
          await settlesWithin(
            connection.multi().del(keys.heartbeat + workerId).srem(keys.workers, workerId).exec(),
            CLOSE_STEP_MS,
          );
          await closeRedis(subscriber);
          await closeRedis(connection);
        })();
        return closing;
      },
    };
    consumers.add(consumer);
    return consumer;
  }

  return {
    async enqueue(payload) {
      if (closed) throw new AppError('system_error', { status: 503, detail: 'queue closed' });
      await redisCall(() => queue.add('download', payload, { jobId: payload.jobId }));
    },

    async cancel(jobId) {
      return redisCall(async () => {
        const job = await queue.getJob(jobId);
        if (!job) return false;
        const state = await job.getState();
        if (state === 'completed' || state === 'failed' || state === 'unknown') return false;
        if (state !== 'active') {
          try {
            await job.remove();
            return true;
          } catch {
            // Picked up by a worker meanwhile (its lock forbids removal): cancel it as running.
          }
        }
        await client
          .multi()
          .set(keys.cancelled(jobId), '1', 'PX', CANCEL_MARKER_TTL_MS)
          .publish(keys.cancelChannel, jobId)
          .exec();
        return true;
      });
    },

    consume,

    async counts(): Promise<QueueCounts> {
      const c = await redisCall(() => queue.getJobCounts('wait', 'paused', 'prioritized', 'delayed', 'active'));
      return {
        waiting: (c.wait ?? 0) + (c.paused ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0),
        active: c.active ?? 0,
      };
    },

    async hasLiveWorker() {
      const live = await redisCall(() => COUNT_LIVE_WORKERS(client, [keys.workers], [keys.heartbeat]));
      return Number(live) > 0;
    },

    async close() {
      if (closed) return;
      closed = true;
      // Consumers still open hand their jobs back now rather than leak connections.
      await Promise.all([...consumers].map((c) => c.close(0)));
      // Cut short only when Redis is away: cutting a live close short leaves BullMQ's own pending
      // commands to fail, unhandled, on the closed connection.
      await settlesWithin(queue.close(), client.status === 'ready' ? LIVE_CLOSE_MS : CLOSE_STEP_MS);
      await closeRedis(client);
    },
  };
}

/** A request-path Redis failure (see `redisCall`), as opposed to a bug in the handler. */
function isRedisOutage(err: unknown): boolean {
  return err instanceof AppError && err.status === 503 && isConnectionError(err.cause);
}
