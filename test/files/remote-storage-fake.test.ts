import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeObjectStorageContract } from '../contracts/object-storage.contract.js';
import { createRemoteStorageFake } from './remote-storage-fake.js';

describeObjectStorageContract('remote storage fake', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'remote-fake-'));
  return {
    storage: createRemoteStorageFake(dir).storage,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
