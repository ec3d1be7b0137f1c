/**
 * The JobStore contract (SPEC §3): every adapter runs this same suite against the real thing.
 * Times come from the real clock, because the store stamps `updatedAt` itself.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newJob, type DownloadType, type Job } from '../../src/downloads/job.js';
import type { JobStore } from '../../src/store/job-store.js';

export type JobStoreFactory = () => Promise<{ store: JobStore; cleanup(): Promise<void> }>;

function makeJob(fields: { clientKey?: string | null; downloadType?: DownloadType } = {}): Job {
  return newJob({
    id: randomUUID(),
    url: `https://www.youtube.com/watch?v=${randomUUID().slice(0, 11)}`,
    formatId: '137+140',
    downloadType: fields.downloadType ?? 'video-audio',
    clientKey: fields.clientKey === undefined ? `client-${randomUUID()}` : fields.clientKey,
    now: Date.now(),
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function describeJobStoreContract(name: string, factory: JobStoreFactory): void {
  describe(`JobStore contract: ${name}`, () => {
    let store: JobStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('create and get', () => {
      it('returns the created job with every field kept', async () => {
        const job = makeJob({ downloadType: 'audio-only' });
        await store.create(job);
        expect(await store.get(job.id)).toEqual({ ...job, updatedAt: expect.any(Number) });
      });

      it('keeps a null client key', async () => {
        const job = makeJob({ clientKey: null });
        await store.create(job);
        expect((await store.get(job.id))?.clientKey).toBeNull();
      });

      it('answers null for an unknown id', async () => {
        expect(await store.get(randomUUID())).toBeNull();
      });

      it('refuses to create a job whose id exists, leaving the first one intact', async () => {
        const job = makeJob();
        await store.create(job);
        await expect(store.create({ ...job, url: 'https://youtu.be/other' })).rejects.toThrow();
        expect((await store.get(job.id))?.url).toBe(job.url);
      });
    });

    describe('getMany', () => {
      it('returns jobs in the order asked, with null where missing', async () => {
        const a = makeJob();
        const b = makeJob();
        await store.create(a);
        await store.create(b);
        const missing = randomUUID();
        const got = await store.getMany([b.id, missing, a.id, b.id]);
        expect(got.map((j) => j?.id ?? null)).toEqual([b.id, null, a.id, b.id]);
        expect(got[2]).toEqual({ ...a, updatedAt: expect.any(Number) });
      });

      it('answers an empty list for no ids', async () => {
        expect(await store.getMany([])).toEqual([]);
      });

      it('answers all nulls when nothing exists', async () => {
        expect(await store.getMany([randomUUID(), randomUUID()])).toEqual([null, null]);
      });
    });

    describe('update', () => {
      it('applies every patch field and returns the job after it', async () => {
        const job = makeJob();
        await store.create(job);
        const updated = await store.update(job.id, {
          status: 'completed',
          progress: { percentage: 100, phase: 'completed', speed: '2.0 MB/s', eta: 0 },
          token: 'tok-1',
          expireAt: 1_900_000_000_000,
        });
        const expected: Job = {
          ...job,
          status: 'completed',
          progress: { percentage: 100, phase: 'completed', speed: '2.0 MB/s', eta: 0 },
          token: 'tok-1',
          expireAt: 1_900_000_000_000,
          updatedAt: expect.any(Number) as unknown as number,
        };
        expect(updated).toEqual(expected);
        expect(await store.get(job.id)).toEqual(expected);
      });

      it('merges a partial progress into the stored one', async () => {
        const job = makeJob();
        await store.create(job);
        await store.update(job.id, {
          progress: { percentage: 40, phase: 'downloading', speed: '1.0 MB/s', eta: 12 },
        });
        const updated = await store.update(job.id, { progress: { eta: 5 } });
        expect(updated?.progress).toEqual({
          percentage: 40,
          phase: 'downloading',
          speed: '1.0 MB/s',
          eta: 5,
        });
      });

      it('sets nullable fields back to null when the patch says null', async () => {
        const job = makeJob();
        await store.create(job);
        await store.update(job.id, {
          status: 'failed',
          errorCategory: 'download_failed',
          token: 't',
          expireAt: 5,
          progress: { speed: '1 KB/s', eta: 3 },
        });
        const updated = await store.update(job.id, {
          errorCategory: null,
          token: null,
          expireAt: null,
          progress: { speed: null, eta: null },
        });
        expect(updated).toMatchObject({ errorCategory: null, token: null, expireAt: null });
        expect(updated?.progress.speed).toBeNull();
        expect(updated?.progress.eta).toBeNull();
        expect(updated?.status).toBe('failed');
      });

      it('leaves fields that the patch does not name untouched', async () => {
        const job = makeJob();
        await store.create(job);
        await store.update(job.id, { status: 'failed', errorCategory: 'network_error' });
        const updated = await store.update(job.id, { progress: { phase: 'downloading' } });
        expect(updated).toMatchObject({
          status: 'failed',
          errorCategory: 'network_error',
          url: job.url,
          formatId: job.formatId,
          clientKey: job.clientKey,
          createdAt: job.createdAt,
        });
      });

      it('answers null for an unknown id and creates nothing', async () => {
        const id = randomUUID();
        expect(await store.update(id, { status: 'processing' })).toBeNull();
        expect(await store.get(id)).toBeNull();
      });

      it('moves updatedAt forward', async () => {
        const job = makeJob();
        await store.create(job);
        const before = (await store.get(job.id))!.updatedAt;
        await sleep(15);
        const updated = await store.update(job.id, { progress: { phase: 'downloading' } });
        expect(updated!.updatedAt).toBeGreaterThan(before);
      });
    });

    describe('update as compare-and-set on ifStatus', () => {
      it('applies the patch when the stored status is listed', async () => {
        const job = makeJob();
        await store.create(job);
        const updated = await store.update(
          job.id,
          { status: 'processing' },
          { ifStatus: ['pending', 'processing'] },
        );
        expect(updated?.status).toBe('processing');
      });

      it('refuses the patch and changes nothing when the stored status is not listed', async () => {
        const job = makeJob();
        await store.create(job);
        await store.update(job.id, { status: 'completed', progress: { percentage: 100 } });
        const stored = await store.get(job.id);
        const result = await store.update(
          job.id,
          { status: 'failed', errorCategory: 'download_failed', progress: { percentage: 10 } },
          { ifStatus: ['pending', 'processing'] },
        );
        expect(result).toBeNull();
        expect(await store.get(job.id)).toEqual(stored);
      });

      it('lets exactly one of many concurrent claims win', async () => {
        const job = makeJob();
        await store.create(job);
        const results = await Promise.all(
          Array.from({ length: 12 }, () =>
            store.update(job.id, { status: 'processing' }, { ifStatus: ['pending'] }),
          ),
        );
        expect(results.filter((r) => r !== null)).toHaveLength(1);
      });
    });

    describe('monotonic percentage', () => {
      it('never lowers the stored percentage, yet applies the rest of the patch', async () => {
        const job = makeJob();
        await store.create(job);
        await store.update(job.id, { progress: { percentage: 60, phase: 'downloading' } });
        const updated = await store.update(job.id, {
          progress: { percentage: 20, phase: 'merging', speed: '3 MB/s' },
        });
        expect(updated?.progress).toEqual({
          percentage: 60,
          phase: 'merging',
          speed: '3 MB/s',
          eta: null,
        });
        expect((await store.get(job.id))?.progress.percentage).toBe(60);
      });

      it('raises the percentage when the new value is higher', async () => {
        const job = makeJob();
        await store.create(job);
        await store.update(job.id, { progress: { percentage: 10 } });
        expect((await store.update(job.id, { progress: { percentage: 55 } }))?.progress.percentage).toBe(55);
      });

      it('ends at the maximum of many concurrent updates', async () => {
        const job = makeJob();
        await store.create(job);
        const values = [13, 87, 2, 45, 91, 30, 64, 5, 77, 50];
        await Promise.all(values.map((p) => store.update(job.id, { progress: { percentage: p } })));
        expect((await store.get(job.id))?.progress.percentage).toBe(91);
      });
    });

    describe('delete', () => {
      it('deletes a job and says so', async () => {
        const job = makeJob();
        await store.create(job);
        expect(await store.delete(job.id)).toBe(true);
        expect(await store.get(job.id)).toBeNull();
        expect(await store.update(job.id, { status: 'processing' })).toBeNull();
      });

      it('answers false for an unknown id', async () => {
        expect(await store.delete(randomUUID())).toBe(false);
      });

      it('lets the id be created again after delete', async () => {
        const job = makeJob();
        await store.create(job);
        await store.delete(job.id);
        await store.create(job);
        expect((await store.get(job.id))?.id).toBe(job.id);
      });
    });

    describe('expired', () => {
      it('lists jobs last updated before the cut-off, not those updated after', async () => {
        const old = makeJob();
        await store.create(old);
        await sleep(15);
        const cutoff = Date.now();
        await sleep(15);
        const fresh = makeJob();
        await store.create(fresh);
        const ids = await store.expired(cutoff, 100);
        expect(ids).toContain(old.id);
        expect(ids).not.toContain(fresh.id);
      });

      it('counts from the last update, not from creation', async () => {
        const job = makeJob();
        await store.create(job);
        await sleep(15);
        const cutoff = Date.now();
        await sleep(15);
        await store.update(job.id, { progress: { phase: 'downloading' } });
        expect(await store.expired(cutoff, 100)).not.toContain(job.id);
      });

      it('returns at most `limit` ids', async () => {
        const jobs = [makeJob(), makeJob(), makeJob(), makeJob()];
        for (const job of jobs) await store.create(job);
        await sleep(5);
        const cutoff = Date.now() + 1;
        const first = await store.expired(cutoff, 3);
        expect(first).toHaveLength(3);
        for (const id of first) expect(jobs.map((j) => j.id)).toContain(id);
        const all = await store.expired(cutoff, 100);
        for (const job of jobs) expect(all).toContain(job.id);
      });

      it('forgets deleted jobs', async () => {
        const job = makeJob();
        await store.create(job);
        await store.delete(job.id);
        expect(await store.expired(Date.now() + 1000, 100)).not.toContain(job.id);
      });
    });

    describe('countActiveForClient', () => {
      it('counts pending and processing jobs of that client only', async () => {
        const client = `client-${randomUUID()}`;
        const a = makeJob({ clientKey: client });
        const b = makeJob({ clientKey: client });
        const c = makeJob({ clientKey: client });
        const other = makeJob();
        for (const job of [a, b, c, other]) await store.create(job);
        await store.update(b.id, { status: 'processing' });
        expect(await store.countActiveForClient(client)).toBe(3);

        await store.update(a.id, { status: 'completed' });
        await store.update(b.id, { status: 'failed' });
        expect(await store.countActiveForClient(client)).toBe(1);

        await store.delete(c.id);
        expect(await store.countActiveForClient(client)).toBe(0);
      });

      it('answers 0 for an unknown client', async () => {
        expect(await store.countActiveForClient(`client-${randomUUID()}`)).toBe(0);
      });
    });
  });
}
