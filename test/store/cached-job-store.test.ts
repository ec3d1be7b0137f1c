import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newJob } from '../../src/downloads/job.js';
import { createCachedJobStore, type JobChangeFeed } from '../../src/store/cached-job-store.js';
import type { JobStore } from '../../src/store/job-store.js';
import { openDatabase, type Database } from '../../src/store/sqlite-database.js';
import { createSqliteJobStore } from '../../src/store/sqlite-job-store.js';

const TTL_MS = 3_600_000;

/** A feed the test drives by hand. */
function scriptedFeed(live = true) {
  const listeners: Parameters<JobChangeFeed['subscribe']>[0][] = [];
  return {
    live,
    subscribe(l: (typeof listeners)[number]) {
      listeners.push(l);
    },
    change(id: string) {
      for (const l of listeners) l.onChange(id);
    },
    reset() {
      for (const l of listeners) l.onReset();
    },
  };
}

describe('cached job store', () => {
  let dir: string;
  let db: Database;
  let now: number;
  let inner: JobStore;
  /** Reads that reached the SQLite store. */
  let innerReads: number;
  /** When set, the next inner read waits for it. */
  let gate: Promise<void> | null;
  const clock = () => now;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ultra-dl-cache-'));
    db = openDatabase(dir);
    now = 1_700_000_000_000;
    innerReads = 0;
    gate = null;
    const sqlite = createSqliteJobStore(db, { jobTtlMs: TTL_MS, clock });
    inner = {
      ...sqlite,
      async get(id) {
        innerReads += 1;
        const job = await sqlite.get(id);
        if (gate) await gate;
        return job;
      },
    };
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const job = (id: string) =>
    newJob({ id, url: 'https://youtu.be/abcdefghijk', formatId: '18', downloadType: 'video-audio', clientKey: 'c', now });

  it('answers repeated reads from memory with one record nobody can change', async () => {
    const store = createCachedJobStore(inner, { jobTtlMs: TTL_MS, clock });
    await store.create(job('a'));
    const first = await store.get('a');
    first!.status = 'failed'; // the store's own answer: a copy of the caller's
    const second = await store.get('a');
    const third = await store.get('a');
    expect(second).toMatchObject({ id: 'a', status: 'pending', progress: { percentage: 0 } });
    expect(third).toBe(second);
    expect(() => (second!.progress.percentage = 99)).toThrow(TypeError);
    expect(innerReads).toBe(1);
  });

  it('keeps what its own writes return, and forgets deleted jobs', async () => {
    const store = createCachedJobStore(inner, { jobTtlMs: TTL_MS, clock });
    await store.create(job('a'));
    await store.get('a');
    await store.update('a', { status: 'processing', progress: { percentage: 40, phase: 'downloading' } });
    expect(await store.get('a')).toMatchObject({ status: 'processing', progress: { percentage: 40 } });
    expect(innerReads).toBe(1);
    // A refused compare-and-set changes nothing and leaves nothing wrong behind.
    expect(await store.update('a', { status: 'completed' }, { ifStatus: ['pending'] })).toBeNull();
    expect(await store.get('a')).toMatchObject({ status: 'processing' });
    expect(await store.delete('a')).toBe(true);
    expect(await store.get('a')).toBeNull();
  });

  it('reads a record past its TTL as missing, and reads again after maxAgeMs', async () => {
    const store = createCachedJobStore(inner, { jobTtlMs: TTL_MS, clock, maxAgeMs: 1_000 });
    await store.create(job('a'));
    await store.get('a');
    now += 999;
    await store.get('a');
    expect(innerReads).toBe(1);
    now += 2;
    await store.get('a');
    expect(innerReads).toBe(2);
    now += TTL_MS;
    expect(await store.get('a')).toBeNull();
  });

  it('holds at most maxEntries records, dropping the one cached longest ago', async () => {
    const store = createCachedJobStore(inner, { jobTtlMs: TTL_MS, clock, maxEntries: 2 });
    for (const id of ['a', 'b', 'c']) await store.create(job(id));
    await store.get('a');
    await store.get('b');
    await store.get('c'); // drops a
    innerReads = 0;
    await store.get('b');
    await store.get('c');
    expect(innerReads).toBe(0);
    await store.get('a');
    expect(innerReads).toBe(1);
  });

  it('drops a record the feed reports changed, and everything on a reset', async () => {
    const feed = scriptedFeed();
    const store = createCachedJobStore(inner, { jobTtlMs: TTL_MS, clock, changes: feed });
    for (const id of ['a', 'b']) await store.create(job(id));
    await store.get('a');
    await store.get('b');
    // Another process's write: the cache hears of it only through the feed.
    await createSqliteJobStore(db, { jobTtlMs: TTL_MS, clock }).update('a', { status: 'processing' });
    feed.change('a');
    expect(await store.get('a')).toMatchObject({ status: 'processing' });
    expect(await store.get('b')).toMatchObject({ status: 'pending' });
    expect(innerReads).toBe(3);
    feed.reset();
    await store.get('a');
    await store.get('b');
    expect(innerReads).toBe(5);
  });

  it('does not keep an answer that a change overtook while it was in flight', async () => {
    const feed = scriptedFeed();
    const store = createCachedJobStore(inner, { jobTtlMs: TTL_MS, clock, changes: feed });
    await store.create(job('a'));
    let open!: () => void;
    gate = new Promise((resolve) => (open = resolve));
    const reading = store.get('a');
    // The write and its report land while the old answer is on its way.
    await createSqliteJobStore(db, { jobTtlMs: TTL_MS, clock }).update('a', { status: 'processing' });
    feed.change('a');
    open();
    expect(await reading).toMatchObject({ status: 'pending' });
    gate = null;
    expect(await store.get('a')).toMatchObject({ status: 'processing' });
  });

  it('passes every read through while the feed is not live', async () => {
    const feed = scriptedFeed(false);
    const store = createCachedJobStore(inner, { jobTtlMs: TTL_MS, clock, changes: feed });
    await store.create(job('a'));
    await store.get('a');
    await store.update('a', { status: 'processing' });
    await store.get('a');
    expect(innerReads).toBe(2);
    feed.live = true;
    await store.get('a');
    await store.get('a');
    expect(innerReads).toBe(3);
  });
});
