/**
 * A read-through cache in front of a JobStore, so the status polls of hot jobs answer from memory.
 *
 * The cache is right only while it hears of every change: the writes made through it, and, when
 * other processes write the same records (distributed mode), the ids a `JobChangeFeed` reports.
 * While the feed is not live, reads and writes pass straight through. A result is kept only when
 * no change of any job was heard while it was in flight, so a report that overtakes the answer it
 * invalidates cannot leave an old record behind.
 *
 * A cached answer is one frozen object shared by every reader until the record changes, so callers
 * may keep derived values per object (the status view does).
 */
import type { Job } from '../downloads/job.js';
import type { JobStore } from './job-store.js';

/** Changes to job records made by other processes. */
export interface JobChangeFeed {
  /** True while every change is being reported; a gap in reporting starts with `onReset`. */
  readonly live: boolean;
  /** `onChange(id)` for a changed record; `onReset()` when changes may have been missed. */
  subscribe(listener: { onChange(id: string): void; onReset(): void }): void;
}

export interface CachedJobStoreOptions {
  /** The store's record lifetime since the last update: an older cached record reads as missing. */
  jobTtlMs: number;
  /** Records kept at most; the one cached longest ago goes first (a hot job is read back soon). */
  maxEntries?: number;
  /**
   * How long a record is answered from memory before it is read again, ms. A bound on staleness
   * should a change report ever go missing unnoticed; unbounded by default.
   */
  maxAgeMs?: number;
  /** Where other processes write the same records; omit when none do. */
  changes?: JobChangeFeed;
  clock?: () => number;
}

const DEFAULT_MAX_ENTRIES = 10_000;

/** A record as the cache holds and shares it: a copy nobody can change. */
function frozenCopy(job: Job): Job {
  return Object.freeze({ ...job, progress: Object.freeze({ ...job.progress }) });
}

export function createCachedJobStore(inner: JobStore, options: CachedJobStoreOptions): JobStore {
  const clock = options.clock ?? Date.now;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const feed = options.changes;
  const maxAgeMs = options.maxAgeMs ?? Infinity;
  const cache = new Map<string, { job: Job; readAt: number }>();
  // Bumped by every change heard (ours or the feed's): a result read across a bump is not kept.
  let changes = 0;

  feed?.subscribe({
    onChange(id) {
      changes += 1;
      cache.delete(id);
    },
    onReset() {
      changes += 1;
      cache.clear();
    },
  });

  const caching = () => feed === undefined || feed.live;

  function keep(job: Job, seenChanges: number): void {
    cache.delete(job.id);
    if (changes !== seenChanges || !caching()) return;
    cache.set(job.id, { job: frozenCopy(job), readAt: clock() });
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
  }

  /**
   * Runs a write with the record's entry dropped; `seen` is the change count after its own bump,
   * so a read that was in flight across the write is not kept.
   */
  async function writing<T>(id: string, write: () => Promise<T>): Promise<{ result: T; seen: number }> {
    changes += 1;
    cache.delete(id);
    const seen = changes;
    return { result: await write(), seen };
  }

  return {
    async get(id) {
      const cached = cache.get(id);
      if (cached !== undefined) {
        const now = clock();
        if (cached.job.updatedAt > now - options.jobTtlMs && cached.readAt > now - maxAgeMs) {
          return cached.job;
        }
        cache.delete(id);
      }
      const seen = changes;
      const job = await inner.get(id);
      if (job !== null) keep(job, seen);
      return job;
    },

    getMany: (ids) => inner.getMany(ids),

    async create(job) {
      await writing(job.id, () => inner.create(job));
    },

    async update(id, patch, updateOptions) {
      const { result, seen } = await writing(id, () => inner.update(id, patch, updateOptions));
      if (result !== null) keep(result, seen);
      return result;
    },

    async delete(id) {
      return (await writing(id, () => inner.delete(id))).result;
    },

    expired: (olderThan, limit) => inner.expired(olderThan, limit),
    countActiveForClient: (clientKey) => inner.countActiveForClient(clientKey),

    async close() {
      cache.clear();
      await inner.close();
    },
  };
}
