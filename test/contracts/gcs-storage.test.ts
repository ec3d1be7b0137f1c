/**
 * The ObjectStorage contract against the GCS adapter, pointed at the in-process JSON API emulator
 * (no internet). The emulator stands in for Cloud Storage; `scripts/check-gcs.mjs` checks a real bucket.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { expect } from 'vitest';
import { createGcsStorage } from '../../src/storage/gcs-storage.js';
import { startGcsEmulator } from '../gcs/gcs-emulator.js';
import { createTestServiceAccount } from '../gcs/service-account.js';
import { describeObjectStorageContract } from './object-storage.contract.js';

const BUCKET = 'ultra-dl-contract';

describeObjectStorageContract('gcs (emulator)', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'gcs-contract-'));
  const account = await createTestServiceAccount(dir);
  const emulator = await startGcsEmulator({ buckets: [BUCKET], signer: account });
  const storage = createGcsStorage({
    bucketName: BUCKET,
    credentialsFile: account.keyFile,
    apiEndpoint: emulator.endpoint,
    logger: pino({ level: 'silent' }),
    maxRetries: 0,
    // Low enough that the contract's multi-megabyte file goes through a chunked resumable session.
    resumableThresholdBytes: 1024 * 1024,
  });
  return {
    storage,
    async cleanup() {
      // Every call the adapter made must be one the emulator implements, i.e. one GCS has.
      expect(emulator.unhandled).toEqual([]);
      await emulator.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
