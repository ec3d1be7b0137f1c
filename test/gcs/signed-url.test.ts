/**
 * Signed URLs (SPEC §2 Token): V4, signed offline with the service-account key, valid at most
 * `SIGNED_URL_TTL_SECONDS` and never past the token's expiry. Verified here from first principles
 * against a key generated for the test.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGcsStorage } from '../../src/storage/gcs-storage.js';
import type { ObjectMeta } from '../../src/storage/object-storage.js';
import { attachmentDisposition } from '../../src/files/content-disposition.js';
import { signedUrlExpiry } from '../../src/storage/signed-url.js';
import { verifyV4SignedUrl } from './signed-url-verifier.js';
import { createTestServiceAccount, type TestServiceAccount } from './service-account.js';

const META: ObjectMeta = { contentType: 'audio/mp4', downloadName: 'Söng "live".m4a' };

let dir: string;
let account: TestServiceAccount;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gcs-signing-'));
  account = await createTestServiceAccount(dir);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** No endpoint is contacted: signing is local, so the default public endpoint is fine offline. */
function signer(ttlSeconds: number, clock?: () => number) {
  return createGcsStorage({
    bucketName: 'ultra-dl-signing',
    credentialsFile: account.keyFile,
    logger: pino({ level: 'silent' }),
    signedUrlTtlSeconds: ttlSeconds,
    ...(clock ? { clock } : {}),
  });
}

describe('signedUrlExpiry', () => {
  const now = Date.UTC(2026, 11, 4, 12, 0, 0, 250);

  it('is the TTL from now when the token lives longer', () => {
    expect(signedUrlExpiry(now, now + 3_600_000, 300)).toBe(Date.UTC(2026, 11, 4, 12, 5, 0));
  });

  it('is the token expiry, rounded down to a second, when that comes first', () => {
    expect(signedUrlExpiry(now, now + 42_900, 300)).toBe(Date.UTC(2026, 11, 4, 12, 0, 43));
  });

  it('is null when less than the rest of a second remains', () => {
    expect(signedUrlExpiry(now, now + 500, 300)).toBeNull();
    expect(signedUrlExpiry(now, now - 1, 300)).toBeNull();
  });

  it('never exceeds the seven days a V4 URL may live', () => {
    expect(signedUrlExpiry(now, now + 30 * 86_400_000, 30 * 86_400)).toBe(Date.UTC(2026, 11, 11, 12, 0, 0));
  });
});

describe('GCS V4 signed URLs', () => {
  it('are GOOG4-RSA-SHA256 over host only, scoped to the signing day, and verify with the key', async () => {
    const key = `${randomUUID()}/Söng live.m4a`;
    const before = Date.now();

    const url = (await signer(300).signedUrl(key, before + 3_600_000, META))!;
    const grant = verifyV4SignedUrl(url, { publicKey: account.publicKey, clientEmail: account.clientEmail });

    expect(new URL(url).host).toBe('storage.googleapis.com');
    expect(grant.query['X-Goog-Algorithm']).toBe('GOOG4-RSA-SHA256');
    expect(grant.query['X-Goog-SignedHeaders']).toBe('host');
    const day = new Date(grant.signedAt).toISOString().slice(0, 10).replaceAll('-', '');
    expect(grant.credentialScope).toBe(`${day}/auto/storage/goog4_request`);
    expect(grant.bucket).toBe('ultra-dl-signing');
    expect(grant.object).toBe(key);
    expect(grant.expiresSeconds).toBeLessThanOrEqual(300);
    expect(grant.expiresSeconds).toBeGreaterThanOrEqual(299);
    expect(grant.signedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(grant.query['response-content-disposition']).toBe(attachmentDisposition(META.downloadName));
    expect(grant.query['response-content-type']).toBe('audio/mp4');
  });

  it('never outlive the token they serve', async () => {
    const issuedAt = Date.UTC(2030, 0, 1, 23, 59, 59, 900);
    const tokenExpiry = issuedAt + 42_500;

    const url = (await signer(300, () => issuedAt).signedUrl(`${randomUUID()}/a.m4a`, tokenExpiry, META))!;
    const grant = verifyV4SignedUrl(url, { publicKey: account.publicKey, clientEmail: account.clientEmail });

    expect(grant.signedAt).toBe(Date.UTC(2030, 0, 1, 23, 59, 59));
    expect(grant.expiresAt).toBeLessThanOrEqual(tokenExpiry);
    expect(grant.expiresSeconds).toBe(43);
    expect(grant.credentialScope).toBe('20300101/auto/storage/goog4_request');
  });

  it('fail verification once anything signed is changed, or against another key', async () => {
    const url = (await signer(300).signedUrl(`${randomUUID()}/a.m4a`, Date.now() + 60_000, META))!;
    const options = { publicKey: account.publicKey, clientEmail: account.clientEmail };
    expect(() => verifyV4SignedUrl(url, options)).not.toThrow();

    const longer = new URL(url);
    longer.searchParams.set('X-Goog-Expires', '3600');
    expect(() => verifyV4SignedUrl(longer.href, options)).toThrow(/signature/);

    const inline = new URL(url);
    inline.searchParams.set('response-content-disposition', 'inline');
    expect(() => verifyV4SignedUrl(inline.href, options)).toThrow(/signature/);

    const otherHost = new URL(url);
    otherHost.host = 'evil.example';
    expect(() => verifyV4SignedUrl(otherHost.href, options)).toThrow(/signature/);

    const { publicKey: stranger } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(() => verifyV4SignedUrl(url, { ...options, publicKey: stranger })).toThrow(/signature/);
  });
});
