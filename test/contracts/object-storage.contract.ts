/**
 * The ObjectStorage contract (SPEC §8), run against every adapter on the real thing (local disk, GCS
 * or its emulator). Each test gets a fresh storage from `factory` and calls its `cleanup` after.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectMeta, ObjectStorage } from '../../src/storage/object-storage.js';

export interface ObjectStorageFixture {
  storage: ObjectStorage;
  cleanup(): Promise<void>;
}

const META: ObjectMeta = { contentType: 'video/mp4', downloadName: 'Clip é.mp4' };

/** Big enough to span many stream chunks (64 KiB each for fs, more for HTTP), small enough for CI. */
const LARGE_FILE_BYTES = 8 * 1024 * 1024 + 123;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

export function describeObjectStorageContract(
  name: string,
  factory: () => Promise<ObjectStorageFixture>,
): void {
  describe(`ObjectStorage contract: ${name}`, () => {
    let fixture: ObjectStorageFixture;
    let storage: ObjectStorage;
    let sourceDir: string;

    beforeEach(async () => {
      fixture = await factory();
      storage = fixture.storage;
      sourceDir = await mkdtemp(path.join(tmpdir(), 'storage-contract-src-'));
    });

    afterEach(async () => {
      await fixture.cleanup();
      await rm(sourceDir, { recursive: true, force: true });
    });

    /** A unique job id per test, so adapters sharing a bucket or a directory never collide. */
    const jobId = (): string => randomUUID();

    async function sourceFile(data: Buffer, fileName = 'video.mp4'): Promise<string> {
      const file = path.join(sourceDir, `${randomUUID()}-${fileName}`);
      await writeFile(file, data);
      return file;
    }

    async function putBytes(key: string, data: Buffer): Promise<void> {
      await storage.put(key, await sourceFile(data), META);
    }

    it('put stores the file under its key, reports its size and kind, and removes the source', async () => {
      const data = randomBytes(5000);
      const source = await sourceFile(data);
      const key = `${jobId()}/video.mp4`;

      const result = await storage.put(key, source, META);

      expect(result).toEqual({ key, size: data.length, storage: storage.kind });
      expect(await exists(source)).toBe(false);
      expect(await readAll(await storage.open(key))).toEqual(data);
    });

    it('stat gives the size and a plausible modification time', async () => {
      const before = Date.now();
      const key = `${jobId()}/video.mp4`;
      await putBytes(key, randomBytes(1234));

      const info = await storage.stat(key);

      expect(info?.size).toBe(1234);
      expect(typeof info?.mtimeMs).toBe('number');
      // Clocks of a remote service may drift a little from ours.
      expect(info!.mtimeMs).toBeGreaterThan(before - 5 * 60_000);
      expect(info!.mtimeMs).toBeLessThan(Date.now() + 5 * 60_000);
    });

    it('stat of a missing key is null', async () => {
      expect(await storage.stat(`${jobId()}/nothing.mp4`)).toBeNull();
    });

    it('open with a range yields exactly the inclusive bytes asked for', async () => {
      const data = randomBytes(10_000);
      const key = `${jobId()}/video.mp4`;
      await putBytes(key, data);

      expect(await readAll(await storage.open(key, { start: 0, end: 0 }))).toEqual(data.subarray(0, 1));
      expect(await readAll(await storage.open(key, { start: 100, end: 199 }))).toEqual(
        data.subarray(100, 200),
      );
      expect(await readAll(await storage.open(key, { start: 9_990, end: 9_999 }))).toEqual(
        data.subarray(9_990),
      );
    });

    it('open of a missing key fails instead of yielding bytes', async () => {
      const key = `${jobId()}/nothing.mp4`;
      // An adapter may reject at once or hand out a stream that errors on first read.
      const outcome = await storage.open(key).then(
        (stream) => readAll(stream).then(
          (bytes) => ({ failed: false, bytes: bytes.length }),
          (err: unknown) => ({ failed: true, err }),
        ),
        (err: unknown) => ({ failed: true, err }),
      );
      expect(outcome.failed).toBe(true);
    });

    it('put over an existing key replaces its content', async () => {
      const key = `${jobId()}/video.mp4`;
      await putBytes(key, Buffer.from('first version'));
      await putBytes(key, Buffer.from('second'));

      expect((await readAll(await storage.open(key))).toString()).toBe('second');
      expect((await storage.stat(key))?.size).toBe(6);
    });

    it('delete removes the object and deleting a missing one is not an error', async () => {
      const key = `${jobId()}/video.mp4`;
      await putBytes(key, randomBytes(100));

      await storage.delete(key);

      expect(await storage.stat(key)).toBeNull();
      await expect(storage.delete(key)).resolves.toBeUndefined();
      await expect(storage.delete(`${jobId()}/never.mp4`)).resolves.toBeUndefined();
    });

    it('deleteJob removes every object of the job and nothing of another job', async () => {
      const job = jobId();
      // A job id that starts with the other one catches prefix matching without the separator.
      const other = `${job}x`;
      await putBytes(`${job}/a.mp4`, randomBytes(10));
      await putBytes(`${job}/b.m4a`, randomBytes(20));
      await putBytes(`${other}/a.mp4`, randomBytes(30));

      await storage.deleteJob(job);

      expect(await storage.stat(`${job}/a.mp4`)).toBeNull();
      expect(await storage.stat(`${job}/b.m4a`)).toBeNull();
      expect((await storage.stat(`${other}/a.mp4`))?.size).toBe(30);
      await expect(storage.deleteJob(job)).resolves.toBeUndefined();
      await storage.deleteJob(other);
    });

    it('keeps names with spaces and non-ASCII characters', async () => {
      const key = `${jobId()}/Ünïcødé clip (1).mp4`;
      const data = randomBytes(64);
      await putBytes(key, data);

      expect((await storage.stat(key))?.size).toBe(64);
      expect(await readAll(await storage.open(key))).toEqual(data);
    });

    it('refuses keys that could escape their job', async () => {
      const source = await sourceFile(randomBytes(10));
      for (const bad of ['../escape.mp4', `${jobId()}/../../escape.mp4`, '/etc/escape.mp4']) {
        await expect(storage.put(bad, source, META), bad).rejects.toThrow();
      }
      // The source of a refused put is left alone, so the caller can still clean it up.
      expect(await exists(source)).toBe(true);
    });

    it('streams a multi-megabyte file through put and open intact, whole and by range', async () => {
      const data = randomBytes(LARGE_FILE_BYTES);
      const key = `${jobId()}/large.mp4`;

      const result = await storage.put(key, await sourceFile(data), META);

      expect(result.size).toBe(LARGE_FILE_BYTES);
      expect(sha256(await readAll(await storage.open(key)))).toBe(sha256(data));
      const start = 3 * 1024 * 1024 + 7;
      const end = LARGE_FILE_BYTES - 11;
      expect(sha256(await readAll(await storage.open(key, { start, end })))).toBe(
        sha256(data.subarray(start, end + 1)),
      );
    });

    it('signedUrl is null for local storage and an http(s) URL for remote storage', async () => {
      const key = `${jobId()}/video.mp4`;
      await putBytes(key, randomBytes(10));

      const url = await storage.signedUrl(key, Date.now() + 60_000, META);

      if (storage.kind === 'local') {
        expect(url).toBeNull();
      } else {
        expect(url).not.toBeNull();
        expect(['http:', 'https:']).toContain(new URL(url!).protocol);
      }
    });

    it('health reports connected for a usable storage', async () => {
      expect(await storage.health()).toBe('connected');
    });
  });
}
