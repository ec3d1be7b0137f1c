import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createLocalStorage, parseObjectKey } from '../../src/storage/local-storage.js';
import { describeObjectStorageContract } from './object-storage.contract.js';

const META = { contentType: 'video/mp4', downloadName: 'clip.mp4' };

describeObjectStorageContract('local disk', async () => {
  const downloadDir = await mkdtemp(path.join(tmpdir(), 'local-storage-'));
  return {
    storage: createLocalStorage({ downloadDir }),
    cleanup: () => rm(downloadDir, { recursive: true, force: true }),
  };
});

describe('local storage layout', () => {
  let downloadDir: string;
  let workDir: string;

  beforeEach(async () => {
    downloadDir = await mkdtemp(path.join(tmpdir(), 'local-storage-'));
    workDir = await mkdtemp(path.join(tmpdir(), 'local-storage-work-'));
  });

  afterEach(async () => {
    await rm(downloadDir, { recursive: true, force: true });
    await rm(workDir, { recursive: true, force: true });
  });

  it('keeps key <jobId>/<name> at downloadDir/<jobId>/<name>', async () => {
    const storage = createLocalStorage({ downloadDir });
    const source = path.join(workDir, 'out.mp4');
    await writeFile(source, 'payload');

    await storage.put('job-1/My Video.mp4', source, META);

    expect(await readFile(path.join(downloadDir, 'job-1', 'My Video.mp4'), 'utf8')).toBe('payload');
  });

  it('deleting the last file of a job removes the job directory too', async () => {
    const storage = createLocalStorage({ downloadDir });
    const source = path.join(workDir, 'out.mp4');
    await writeFile(source, 'payload');
    await storage.put('job-2/a.mp4', source, META);

    await storage.delete('job-2/a.mp4');

    expect(await readdir(downloadDir)).toEqual([]);
  });

  // /dev/shm is a tmpfs on Linux, another device than the temp dir, so rename fails with EXDEV there.
  const shmIsOtherDevice =
    existsSync('/dev/shm') && statSync('/dev/shm').dev !== statSync(tmpdir()).dev;

  it.runIf(shmIsOtherDevice)('moves a file across devices by copying, then removes the source', async () => {
    const storage = createLocalStorage({ downloadDir });
    const shmDir = await mkdtemp('/dev/shm/local-storage-');
    try {
      const data = randomBytes(3 * 1024 * 1024);
      const source = path.join(shmDir, 'out.mp4');
      await writeFile(source, data);

      const result = await storage.put('job-3/out.mp4', source, META);

      expect(result.size).toBe(data.length);
      expect(existsSync(source)).toBe(false);
      // Buffer.equals, because a deep toEqual over megabytes takes seconds.
      expect((await readFile(path.join(downloadDir, 'job-3', 'out.mp4'))).equals(data)).toBe(true);
      // No temporary copy is left next to the file.
      expect(await readdir(path.join(downloadDir, 'job-3'))).toEqual(['out.mp4']);
    } finally {
      await rm(shmDir, { recursive: true, force: true });
    }
  });

  it('health reports an error when the directory cannot be used', async () => {
    const notADir = path.join(workDir, 'plain-file');
    await writeFile(notADir, 'x');

    const health = await createLocalStorage({ downloadDir: path.join(notADir, 'sub') }).health();

    expect(health).toMatch(/^error: /);
  });

  it('health creates a missing download directory and reports connected', async () => {
    const fresh = path.join(downloadDir, 'not-yet', randomUUID());

    expect(await createLocalStorage({ downloadDir: fresh }).health()).toBe('connected');
    expect(statSync(fresh).isDirectory()).toBe(true);
  });

  it('open of a missing key rejects with file_not_found', async () => {
    const storage = createLocalStorage({ downloadDir });
    await expect(storage.open('job-4/none.mp4')).rejects.toMatchObject({ category: 'file_not_found' });
  });

  it('deleteJob refuses ids that are not one plain segment', async () => {
    const storage = createLocalStorage({ downloadDir });
    for (const bad of ['..', '.work', 'a/b', '', '../x']) {
      await expect(storage.deleteJob(bad), bad).rejects.toBeInstanceOf(AppError);
    }
  });
});

describe('parseObjectKey', () => {
  it('splits a job id and a name', () => {
    expect(parseObjectKey('abc-123/Ünï clip (1).mp4')).toEqual({ jobId: 'abc-123', name: 'Ünï clip (1).mp4' });
  });

  it.each([
    '',
    'no-slash',
    '/abs.mp4',
    '../x.mp4',
    'job/../x.mp4',
    'job/..',
    'job/.',
    'job/',
    'job/sub/x.mp4',
    'job/a\\b.mp4',
    'job/a\0b.mp4',
    '.work/job',
    `job/${'n'.repeat(256)}`,
  ])('refuses %j', (key) => {
    expect(() => parseObjectKey(key)).toThrow(AppError);
  });
});
