/**
 * A stand-in for a remote ObjectStorage (kind `gcs`) on local disk, whose signed URLs carry the
 * expiry asked for. It passes the ObjectStorage contract (see remote-storage-fake.test.ts), so the
 * file route can be tested against it without a GCS emulator.
 */
import { createLocalStorage } from '../../src/storage/local-storage.js';
import type { ObjectMeta, ObjectStorage } from '../../src/storage/object-storage.js';

export const FAKE_SIGNED_URL_BASE = 'https://storage.test/bucket/';

export interface SignedUrlCall {
  key: string;
  expiresAt: number;
  meta: ObjectMeta;
}

export function createRemoteStorageFake(dir: string) {
  const disk = createLocalStorage({ downloadDir: dir });
  const signedUrlCalls: SignedUrlCall[] = [];
  const storage: ObjectStorage = {
    kind: 'gcs',
    async put(key, filePath, meta) {
      return { ...(await disk.put(key, filePath, meta)), storage: 'gcs' };
    },
    stat: (key) => disk.stat(key),
    open: (key, range) => disk.open(key, range),
    async signedUrl(key, expiresAt, meta) {
      signedUrlCalls.push({ key, expiresAt, meta });
      const url = new URL(key.split('/').map(encodeURIComponent).join('/'), FAKE_SIGNED_URL_BASE);
      url.searchParams.set('expires', String(expiresAt));
      return url.toString();
    },
    delete: (key) => disk.delete(key),
    deleteJob: (jobId) => disk.deleteJob(jobId),
    health: () => disk.health(),
  };
  return { storage, signedUrlCalls };
}
