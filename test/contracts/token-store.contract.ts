/**
 * The TokenStore contract (SPEC §2 Token): valid, expired (410 tombstone) and unknown (404).
 * Expiry times are real-clock based, so an adapter may also lean on its backend's own TTLs.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TOMBSTONE_MS, type TokenRecord, type TokenStore } from '../../src/store/token-store.js';

export type TokenStoreFactory = () => Promise<{ store: TokenStore; cleanup(): Promise<void> }>;

const MINUTE_MS = 60_000;

function makeRecord(fields: { jobId?: string; expiresAt: number }): TokenRecord {
  const jobId = fields.jobId ?? randomUUID();
  return {
    token: randomBytes(32).toString('base64url'),
    jobId,
    file: {
      key: `${jobId}/Vidéo – 日本語.mp4`,
      name: 'Vidéo – 日本語.mp4',
      size: 1_234_567,
      contentType: 'video/mp4',
      storage: 'local',
    },
    createdAt: fields.expiresAt - 10 * MINUTE_MS,
    expiresAt: fields.expiresAt,
  };
}

const tokensOf = (records: TokenRecord[]) => records.map((r) => r.token).sort();

export function describeTokenStoreContract(name: string, factory: TokenStoreFactory): void {
  describe(`TokenStore contract: ${name}`, () => {
    let store: TokenStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('issue and resolve', () => {
      it('resolves a live token to its full record', async () => {
        const now = Date.now();
        const record = makeRecord({ expiresAt: now + 10 * MINUTE_MS });
        await store.issue(record);
        expect(await store.resolve(record.token, now)).toEqual({ state: 'valid', record });
      });

      it('keeps a GCS record as such', async () => {
        const now = Date.now();
        const base = makeRecord({ expiresAt: now + MINUTE_MS });
        const record: TokenRecord = {
          ...base,
          file: { ...base.file, storage: 'gcs', contentType: 'audio/mp4' },
        };
        await store.issue(record);
        const lookup = await store.resolve(record.token, now);
        expect(lookup).toEqual({ state: 'valid', record });
      });

      it('answers unknown for a token never issued', async () => {
        expect(await store.resolve(randomBytes(32).toString('base64url'), Date.now())).toEqual({
          state: 'unknown',
        });
      });

      it('answers expired once `now` passes the expiry, even before any cleanup ran', async () => {
        const now = Date.now();
        const record = makeRecord({ expiresAt: now + 10 * MINUTE_MS });
        await store.issue(record);
        expect((await store.resolve(record.token, record.expiresAt - 1)).state).toBe('valid');
        expect(await store.resolve(record.token, record.expiresAt + 1)).toEqual({ state: 'expired' });
      });
    });

    describe('expire', () => {
      it('returns the tokens that just expired, once, and leaves live ones alone', async () => {
        const now = Date.now();
        const jobId = randomUUID();
        const gone1 = makeRecord({ jobId, expiresAt: now - 2 * MINUTE_MS });
        const gone2 = makeRecord({ expiresAt: now - MINUTE_MS });
        const live = makeRecord({ expiresAt: now + 10 * MINUTE_MS });
        for (const r of [gone1, gone2, live]) await store.issue(r);

        const expired = await store.expire(now, 100);
        expect(tokensOf(expired)).toEqual(tokensOf([gone1, gone2]));
        expect(expired.find((r) => r.token === gone1.token)).toEqual(gone1);
        expect(await store.expire(now, 100)).toEqual([]);
        expect((await store.resolve(live.token, now)).state).toBe('valid');
      });

      it('leaves a tombstone that answers expired for at least an hour after expiry', async () => {
        const now = Date.now();
        const record = makeRecord({ expiresAt: now - 1000 });
        await store.issue(record);
        await store.expire(now, 100);
        expect(await store.resolve(record.token, now)).toEqual({ state: 'expired' });
        expect(TOMBSTONE_MS).toBeGreaterThanOrEqual(60 * MINUTE_MS);
        expect(await store.resolve(record.token, record.expiresAt + 60 * MINUTE_MS - 1000)).toEqual({
          state: 'expired',
        });
      });

      it('drops tombstones older than TOMBSTONE_MS, so they answer unknown', async () => {
        const now = Date.now();
        const ancient = makeRecord({ expiresAt: now - TOMBSTONE_MS - 5 * MINUTE_MS });
        const recent = makeRecord({ expiresAt: now - MINUTE_MS });
        await store.issue(ancient);
        await store.issue(recent);
        // The first run may still hand the ancient one out for file deletion; the second must purge.
        const first = await store.expire(now, 100);
        expect(tokensOf(first)).toEqual(tokensOf([ancient, recent]));
        await store.expire(now, 100);
        expect(await store.resolve(ancient.token, now)).toEqual({ state: 'unknown' });
        expect(await store.resolve(recent.token, now)).toEqual({ state: 'expired' });
      });

      it('returns at most `limit` records per call and the rest on later calls', async () => {
        const now = Date.now();
        const records = Array.from({ length: 5 }, (_, i) =>
          makeRecord({ expiresAt: now - (i + 1) * 1000 }),
        );
        for (const r of records) await store.issue(r);
        const batches = [
          await store.expire(now, 2),
          await store.expire(now, 2),
          await store.expire(now, 2),
          await store.expire(now, 2),
        ];
        expect(batches.map((b) => b.length)).toEqual([2, 2, 1, 0]);
        expect(tokensOf(batches.flat())).toEqual(tokensOf(records));
      });
    });

    describe('revokeForJob', () => {
      it('forgets every token of the job and returns their records', async () => {
        const now = Date.now();
        const jobId = randomUUID();
        const a = makeRecord({ jobId, expiresAt: now + MINUTE_MS });
        const b = makeRecord({ jobId, expiresAt: now + 2 * MINUTE_MS });
        const other = makeRecord({ expiresAt: now + MINUTE_MS });
        for (const r of [a, b, other]) await store.issue(r);

        const revoked = await store.revokeForJob(jobId);
        expect(tokensOf(revoked)).toEqual(tokensOf([a, b]));
        expect(revoked.find((r) => r.token === a.token)).toEqual(a);
        expect(await store.resolve(a.token, now)).toEqual({ state: 'unknown' });
        expect(await store.resolve(b.token, now)).toEqual({ state: 'unknown' });
        expect((await store.resolve(other.token, now)).state).toBe('valid');
      });

      it('turns a tombstone into unknown (404 after DELETE, not 410)', async () => {
        const now = Date.now();
        const record = makeRecord({ expiresAt: now - 1000 });
        await store.issue(record);
        await store.expire(now, 100);
        await store.revokeForJob(record.jobId);
        expect(await store.resolve(record.token, now)).toEqual({ state: 'unknown' });
      });

      it('answers an empty list for a job without tokens', async () => {
        expect(await store.revokeForJob(randomUUID())).toEqual([]);
      });

      it('makes a revoked token disappear from later expiry runs', async () => {
        const now = Date.now();
        const record = makeRecord({ expiresAt: now + 1000 });
        await store.issue(record);
        await store.revokeForJob(record.jobId);
        expect(await store.expire(now + 5000, 100)).toEqual([]);
      });
    });
  });
}
