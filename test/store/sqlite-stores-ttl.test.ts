import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newJob } from '../../src/downloads/job.js';
import { openDatabase, type Database } from '../../src/store/sqlite-database.js';
import { createSqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { createSqliteTokenStore } from '../../src/store/sqlite-token-store.js';
import { TOMBSTONE_MS } from '../../src/store/token-store.js';

const TTL_MS = 3_600_000;

describe('sqlite stores with a controlled clock', () => {
  let dir: string;
  let db: Database;
  let now: number;
  const clock = () => now;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ultra-dl-ttl-'));
    db = openDatabase(dir);
    now = 1_700_000_000_000;
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const job = (id: string) =>
    newJob({
      id,
      url: 'https://youtu.be/abcdefghijk',
      formatId: '18',
      downloadType: 'video-audio',
      clientKey: 'c',
      now,
    });

  it('treats a job as gone once JOB_TTL passed since its last update', async () => {
    const store = createSqliteJobStore(db, { jobTtlMs: TTL_MS, clock });
    await store.create(job('a'));
    now += TTL_MS - 1;
    expect(await store.get('a')).not.toBeNull();
    expect(await store.countActiveForClient('c')).toBe(1);

    now += 1;
    expect(await store.get('a')).toBeNull();
    expect(await store.getMany(['a'])).toEqual([null]);
    expect(await store.update('a', { status: 'processing' })).toBeNull();
    expect(await store.countActiveForClient('c')).toBe(0);
    expect(await store.expired(now - TTL_MS + 1, 10)).toEqual(['a']);
  });

  it('keeps a job alive for another TTL after each update', async () => {
    const store = createSqliteJobStore(db, { jobTtlMs: TTL_MS, clock });
    await store.create(job('a'));
    now += TTL_MS - 10;
    await store.update('a', { progress: { percentage: 5 } });
    now += TTL_MS - 10;
    expect((await store.get('a'))?.updatedAt).toBe(now - (TTL_MS - 10));
  });

  it('frees the id of a stale job for a new one, and says a stale delete deleted nothing', async () => {
    const store = createSqliteJobStore(db, { jobTtlMs: TTL_MS, clock });
    await store.create(job('a'));
    await store.create(job('b'));
    now += TTL_MS;
    await store.create(job('a'));
    expect((await store.get('a'))?.createdAt).toBe(now);
    expect(await store.delete('b')).toBe(false);
    expect(await store.expired(now + 1, 10)).toEqual(['a']);
  });

  it('stamps updatedAt from its own clock, whatever the job says', async () => {
    const store = createSqliteJobStore(db, { jobTtlMs: TTL_MS, clock });
    await store.create({ ...job('a'), updatedAt: 5 });
    expect((await store.get('a'))?.updatedAt).toBe(now);
  });

  it('keeps percentages integers within 0–100', async () => {
    const store = createSqliteJobStore(db, { jobTtlMs: TTL_MS, clock });
    await store.create(job('a'));
    expect((await store.update('a', { progress: { percentage: 33.6 } }))?.progress.percentage).toBe(34);
    expect((await store.update('a', { progress: { percentage: 250 } }))?.progress.percentage).toBe(100);
  });

  it('answers unknown for a token past its tombstone period even before a purge', async () => {
    const tokens = createSqliteTokenStore(db);
    const expiresAt = now + 600_000;
    await tokens.issue({
      token: 't',
      jobId: 'a',
      file: { key: 'a/f.mp4', name: 'f.mp4', size: 1, contentType: 'video/mp4', storage: 'local' },
      createdAt: now,
      expiresAt,
    });
    expect((await tokens.resolve('t', expiresAt + TOMBSTONE_MS - 1)).state).toBe('expired');
    expect((await tokens.resolve('t', expiresAt + TOMBSTONE_MS)).state).toBe('unknown');
    // expire() still hands the record out once, so its file gets deleted.
    expect((await tokens.expire(expiresAt + TOMBSTONE_MS, 10)).map((r) => r.token)).toEqual(['t']);
    expect(await tokens.expire(expiresAt + TOMBSTONE_MS, 10)).toEqual([]);
  });
});
