import { createBullmqJobQueue } from '../../src/queue/bullmq-job-queue.js';
import type { JobQueue } from '../../src/queue/job-queue.js';
import { TEST_REDIS_URL, deleteKeys, silentLogger, uniquePrefix } from '../redis/redis-test-env.js';
import { describeJobQueueContract } from './job-queue.contract.js';

describeJobQueueContract('bullmq', async () => {
  const prefix = uniquePrefix();
  const handles: JobQueue[] = [];
  const open = () => {
    const queue = createBullmqJobQueue({
      url: TEST_REDIS_URL,
      prefix,
      logger: silentLogger,
      lockDurationMs: 2_000,
      stalledIntervalMs: 1_000,
    });
    handles.push(queue);
    return queue;
  };
  return {
    queue: open(),
    // A second handle with its own connections, as another process would hold it.
    peer: async () => open(),
    cleanup: async () => {
      await Promise.all(handles.map((q) => q.close()));
      await deleteKeys(TEST_REDIS_URL, prefix);
    },
  };
});
