/**
 * The embedded mode's job queue: in-process delivery, durable in the SQLite `queue` table so that
 * pending jobs survive a restart and jobs of a crashed process are retried once.
 *
 * A row is `waiting` until a consumer claims it (`active`), and is deleted when its handler
 * settles, except after a shutdown abort, when it goes back to `waiting` with the same attempts.
 * `attempts` counts deliveries lost to a crash: a row still `active` when the queue starts
 * belongs to a process that died, since one process owns the file in embedded mode.
 */
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import type { JobPayload } from '../downloads/job.js';
import { AppError } from '../errors.js';
import type {
  AbortReason,
  ConsumeOptions,
  Consumer,
  JobHandler,
  JobQueue,
  QueueCounts,
} from './job-queue.js';
import { settlesWithin } from '../time-limits.js';

/**
 * How long a handler aborted for shutdown may take to settle before its row is handed back
 * anyway; the handler only has to kill yt-dlp and remove partial files, which takes well under
 * this. Bounded so a stuck handler cannot hang shutdown.
 */
// Within the runtime's 3 s shutdown margin, so the process still exits inside SHUTDOWN_GRACE_SECONDS.
const SHUTDOWN_SETTLE_MS = 2_000;

interface QueueRow {
  job_id: string;
  payload: string;
  attempts: number;
}

interface ConsumerState {
  handler: JobHandler;
  options: ConsumeOptions;
  open: boolean;
  running: Set<Delivery>;
  closing: Promise<void> | null;
}

interface Delivery {
  jobId: string;
  consumer: ConsumerState;
  controller: AbortController;
  /** Why the signal was aborted, if it was. */
  reason: AbortReason | null;
  /** Set by cancel even after a shutdown abort: a cancelled job is never handed back. */
  cancelled: boolean;
  settled: Promise<void>;
}

export interface EmbeddedJobQueueOptions {
  logger: Logger;
  clock?: () => number;
  /** Deliveries a job may lose to crashes before it is given to `onDead`. */
  maxAttempts?: number;
}

function waitAll(deliveries: Delivery[], timeoutMs: number): Promise<boolean> {
  return settlesWithin(Promise.all(deliveries.map((d) => d.settled)), timeoutMs);
}

/**
 * JobQueue on the embedded SQLite database. Crashed deliveries are recovered on the first
 * `consume`, since that is where `onDead` is given.
 */
export function createEmbeddedJobQueue(db: Database, options: EmbeddedJobQueueOptions): JobQueue {
  const { logger } = options;
  const clock = options.clock ?? Date.now;
  const maxAttempts = options.maxAttempts ?? 2;

  const insert = db.prepare<[string, string, number]>(`
    INSERT INTO queue (job_id, payload, state, attempts, enqueued_at) VALUES (?, ?, 'waiting', 0, ?)
    ON CONFLICT (job_id) DO NOTHING
  `);
  // Requeued rows keep their enqueued_at and rowid, so a job handed back is first in line again.
  const claimNext = db.prepare<[], QueueRow>(`
    UPDATE queue SET state = 'active'
    WHERE job_id = (SELECT job_id FROM queue WHERE state = 'waiting' ORDER BY enqueued_at, rowid LIMIT 1)
    RETURNING job_id, payload, attempts
  `);
  const deleteRow = db.prepare<[string]>('DELETE FROM queue WHERE job_id = ?');
  const requeue = db.prepare<[string]>("UPDATE queue SET state = 'waiting' WHERE job_id = ?");
  const selectActive = db.prepare<[], QueueRow>(
    "SELECT job_id, payload, attempts FROM queue WHERE state = 'active' ORDER BY enqueued_at, rowid",
  );
  const retryCrashed = db.prepare<[string]>(
    "UPDATE queue SET state = 'waiting', attempts = attempts + 1 WHERE job_id = ?",
  );
  const countStates = db.prepare<[], { state: string; n: number }>(
    'SELECT state, count(*) AS n FROM queue GROUP BY state',
  );

  const consumers = new Set<ConsumerState>();
  const running = new Map<string, Delivery>();
  let closed = false;
  let recovered = false;

  /** Runs a statement whose failure must not break the caller (settling, shutdown). */
  function safely(action: string, jobId: string, run: () => void): void {
    try {
      run();
    } catch (err) {
      logger.error({ err, jobId }, `job queue: ${action} failed`);
    }
  }

  function pump(): void {
    for (const consumer of consumers) {
      while (!closed && consumer.open && consumer.running.size < consumer.options.concurrency) {
        let row: QueueRow | undefined;
        try {
          row = claimNext.get();
        } catch (err) {
          logger.error({ err }, 'job queue: claiming the next job failed');
          return;
        }
        if (!row) return;
        start(consumer, row);
      }
    }
  }

  function start(consumer: ConsumerState, row: QueueRow): void {
    const payload = JSON.parse(row.payload) as JobPayload;
    const delivery: Delivery = {
      jobId: row.job_id,
      consumer,
      controller: new AbortController(),
      reason: null,
      cancelled: false,
      settled: Promise.resolve(),
    };
    running.set(row.job_id, delivery);
    consumer.running.add(delivery);
    const ctx = { jobId: row.job_id, attempt: row.attempts + 1, signal: delivery.controller.signal };
    // Deferred a tick so enqueue returns before the handler starts, as with a remote queue.
    delivery.settled = Promise.resolve()
      .then(() => consumer.handler(payload, ctx))
      .then(
        () => settle(delivery, null),
        (err: unknown) => settle(delivery, err ?? new Error('rejected')),
      );
  }

  function settle(delivery: Delivery, err: unknown): void {
    delivery.consumer.running.delete(delivery);
    const { jobId } = delivery;
    // A delivery that outlived SHUTDOWN_SETTLE_MS was already handed back; its row is not ours.
    if (running.get(jobId) === delivery) {
      running.delete(jobId);
      if (err !== null && delivery.reason === 'shutdown' && !delivery.cancelled) {
        safely('requeue', jobId, () => requeue.run(jobId));
        logger.info({ jobId }, 'job handed back to the queue on shutdown');
      } else {
        safely('delete', jobId, () => deleteRow.run(jobId));
        if (err !== null && delivery.reason === null) {
          logger.error({ err, jobId }, 'job handler rejected without recording a final state');
        }
      }
    }
    pump();
  }

  async function recoverCrashed(onDead: ConsumeOptions['onDead']): Promise<void> {
    const dead: QueueRow[] = [];
    db.transaction(() => {
      for (const row of selectActive.all()) {
        if (running.has(row.job_id)) continue;
        if (row.attempts + 1 < maxAttempts) retryCrashed.run(row.job_id);
        else dead.push(row);
      }
    })();
    for (const row of dead) {
      try {
        await onDead(JSON.parse(row.payload) as JobPayload);
        deleteRow.run(row.job_id);
        logger.warn({ jobId: row.job_id }, 'job lost its worker too often; given up');
      } catch (err) {
        // The row stays active, so the next start tries again rather than forgetting the job.
        logger.error({ err, jobId: row.job_id }, 'job queue: marking a dead job failed');
      }
    }
  }

  function closeConsumer(consumer: ConsumerState, graceMs: number): Promise<void> {
    if (consumer.closing) return consumer.closing;
    consumer.open = false;
    consumer.closing = (async () => {
      await waitAll([...consumer.running], graceMs);
      const remaining = [...consumer.running];
      for (const delivery of remaining) {
        if (delivery.reason === null) {
          delivery.reason = 'shutdown';
          delivery.controller.abort('shutdown' satisfies AbortReason);
        }
      }
      await waitAll(remaining, SHUTDOWN_SETTLE_MS);
      for (const delivery of consumer.running) {
        consumer.running.delete(delivery);
        if (running.get(delivery.jobId) !== delivery) continue;
        running.delete(delivery.jobId);
        logger.warn({ jobId: delivery.jobId }, 'job handler ignored shutdown; handing the job back');
        if (delivery.cancelled) safely('delete', delivery.jobId, () => deleteRow.run(delivery.jobId));
        else safely('requeue', delivery.jobId, () => requeue.run(delivery.jobId));
      }
      consumers.delete(consumer);
      // Another consumer of this process may take what was handed back.
      pump();
    })();
    return consumer.closing;
  }

  function assertOpen(): void {
    if (closed) throw new AppError('system_error', { detail: 'job queue is closed' });
  }

  return {
    async enqueue(payload: JobPayload) {
      assertOpen();
      try {
        insert.run(payload.jobId, JSON.stringify(payload), clock());
      } catch (err) {
        throw new AppError('system_error', { detail: 'job queue: enqueue failed', cause: err });
      }
      pump();
    },

    async cancel(jobId: string) {
      const delivery = running.get(jobId);
      if (delivery) {
        delivery.cancelled = true;
        if (delivery.reason === null) {
          delivery.reason = 'cancelled';
          delivery.controller.abort('cancelled' satisfies AbortReason);
        }
        return true;
      }
      // A waiting row, or an active one left by a crashed process, which nobody runs.
      return deleteRow.run(jobId).changes > 0;
    },

    async consume(handler: JobHandler, consumeOptions: ConsumeOptions): Promise<Consumer> {
      assertOpen();
      if (!Number.isInteger(consumeOptions.concurrency) || consumeOptions.concurrency < 1) {
        throw new AppError('system_error', {
          detail: `job queue: concurrency must be a positive integer, got ${consumeOptions.concurrency}`,
        });
      }
      if (!recovered) {
        recovered = true;
        await recoverCrashed(consumeOptions.onDead);
      }
      const consumer: ConsumerState = {
        handler,
        options: consumeOptions,
        open: true,
        running: new Set(),
        closing: null,
      };
      consumers.add(consumer);
      pump();
      return { close: (graceMs: number) => closeConsumer(consumer, graceMs) };
    },

    async counts(): Promise<QueueCounts> {
      const counts: QueueCounts = { waiting: 0, active: 0 };
      for (const { state, n } of countStates.all()) {
        if (state === 'waiting' || state === 'active') counts[state] = n;
      }
      return counts;
    },

    async hasLiveWorker() {
      return [...consumers].some((c) => c.open);
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...consumers].map((c) => closeConsumer(c, 0)));
    },
  };
}
