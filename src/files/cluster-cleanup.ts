/**
 * Cleanup once per interval across the whole cluster (SPEC §8, distributed mode). Every api and
 * worker process upserts the same BullMQ job scheduler and runs a worker of concurrency 1 on the
 * `cleanup` queue; the scheduler makes one job per interval, so exactly one process runs it.
 */
import { Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { closeRedis, createRedis } from '../redis/redis-connection.js';
import { settlesWithin } from '../time-limits.js';

export interface ClusterCleanupOptions {
  /** `redis://[:password@]host[:port][/db]` */
  url: string;
  /** Our key prefix (e.g. `ultradl:`); BullMQ's keys go under `<prefix>bull:`. */
  prefix: string;
  intervalMs: number;
  /** One cleanup pass; its result is only logged. */
  run: () => Promise<unknown>;
  logger: Logger;
}

export interface ClusterCleanup {
  /** Stops this process's part; the schedule stays for the other processes. */
  close(): Promise<void>;
}

const QUEUE_NAME = 'cleanup';
const SCHEDULER_ID = 'cleanup';
const CLOSE_STEP_MS = 2_000;

export async function startClusterCleanup(options: ClusterCleanupOptions): Promise<ClusterCleanup> {
  const { url, intervalMs, run, logger } = options;
  const prefix = `${options.prefix}bull`;
  const log = logger.child({ task: 'cleanup' });
  // Both wait for Redis rather than fail: cleanup is a background task.
  const connection = createRedis(url, { role: 'cleanup', logger, forBullmq: true });
  const queue = new Queue(QUEUE_NAME, {
    connection,
    prefix,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: { count: 100 } },
  });
  queue.on('error', (err) => log.warn({ err }, 'cleanup queue error'));
  // Same id and interval from every process: an upsert, not one more schedule per process. Not
  // awaited: with Redis down at start-up it waits for Redis, and the process must start anyway.
  const scheduled = queue
    .upsertJobScheduler(SCHEDULER_ID, { every: intervalMs }, { name: 'cleanup' })
    .catch((err: unknown) => log.error({ err }, 'could not schedule the cleanup'));

  const worker = new Worker(
    QUEUE_NAME,
    async () => {
      const started = Date.now();
      const result = await run();
      log.info({ result, ms: Date.now() - started }, 'cleanup pass done');
    },
    { connection, prefix, concurrency: 1 },
  );
  worker.on('error', (err) => log.warn({ err }, 'cleanup worker error'));
  worker.on('failed', (_job, err) => log.error({ err }, 'cleanup pass failed'));

  let closing: Promise<void> | null = null;
  return {
    close() {
      closing ??= (async () => {
        // Each step is bounded so a shutdown during a Redis outage still ends; a pass that is
        // running gets CLOSE_STEP_MS to finish; if cut off, its lock expires and another process
        // may run that pass again (cleanup is idempotent).
        await settlesWithin(scheduled, CLOSE_STEP_MS);
        await settlesWithin(worker.close(), CLOSE_STEP_MS);
        await settlesWithin(queue.close(), CLOSE_STEP_MS);
        await closeRedis(connection);
      })();
      return closing;
    },
  };
}
