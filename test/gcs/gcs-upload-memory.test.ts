/**
 * A finished file is streamed into the bucket, never held whole in memory (SPEC §8, §11 "Whole files
 * read into memory"): storing a 1 GiB file keeps this process's resident memory nearly flat. The
 * emulator runs in the same process and streams too, so the bound covers both ends.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createGcsStorage } from '../../src/storage/gcs-storage.js';
import { startGcsEmulator, type GcsEmulator } from './gcs-emulator.js';
import { createTestServiceAccount } from './service-account.js';

const BUCKET = 'ultra-dl-memory';
const FILE_BYTES = 1024 ** 3;
/** Chunk buffers, socket buffers and GC slack; buffering the file would add a whole gigabyte. */
const MAX_RSS_GROWTH_BYTES = 100 * 1024 * 1024;
const SAMPLE_EVERY_MS = 25;

let dir: string;
let emulator: GcsEmulator;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gcs-memory-'));
  emulator = await startGcsEmulator({ buckets: [BUCKET] });
});

afterAll(async () => {
  await emulator?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A sparse file: a gigabyte on paper, nothing on disk, with a few marked bytes to catch truncation. */
async function sparseFile(file: string, size: number): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.truncate(size);
    for (const at of [0, Math.floor(size / 3), size - 16]) await handle.write(Buffer.from('ultra-dl-marker!'), 0, 16, at);
  } finally {
    await handle.close();
  }
}

async function md5Of(file: string): Promise<string> {
  const hash = createHash('md5');
  await pipeline(createReadStream(file), hash);
  return hash.digest('base64');
}

it(
  'stores a 1 GiB file in the bucket with flat memory',
  async () => {
    const account = await createTestServiceAccount(dir);
    const storage = createGcsStorage({
      bucketName: BUCKET,
      credentialsFile: account.keyFile,
      apiEndpoint: emulator.endpoint,
      logger: pino({ level: 'silent' }),
      maxRetries: 0,
    });
    const file = path.join(dir, 'big.mp4');
    await sparseFile(file, FILE_BYTES);
    const expectedMd5 = await md5Of(file);

    // Warm up the client and the emulator so their one-off allocations are in the baseline.
    const warm = path.join(dir, 'warm.mp4');
    await writeFile(warm, Buffer.alloc(9 * 1024 * 1024, 1));
    await storage.put('warm/warm.mp4', warm, { contentType: 'video/mp4', downloadName: 'warm.mp4' });
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, SAMPLE_EVERY_MS);

    try {
      const result = await storage.put('job/big.mp4', file, { contentType: 'video/mp4', downloadName: 'big.mp4' });
      expect(result.size).toBe(FILE_BYTES);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);

    const growthMb = ((peak - baseline) / 1024 ** 2).toFixed(1);
    expect(peak - baseline, `resident memory grew by ${growthMb} MB`).toBeLessThan(MAX_RSS_GROWTH_BYTES);
    await expect(stat(file)).rejects.toThrow();
    // The upload went through a chunked resumable session and arrived byte for byte.
    expect(emulator.calls.filter((c) => c === 'upload:chunk').length).toBeGreaterThanOrEqual(FILE_BYTES / (8 * 1024 ** 2));
    const res = await fetch(`${emulator.endpoint}/storage/v1/b/${BUCKET}/o/${encodeURIComponent('job/big.mp4')}`);
    const meta = (await res.json()) as { size: string; md5Hash: string };
    expect(meta.size).toBe(String(FILE_BYTES));
    expect(meta.md5Hash).toBe(expectedMd5);
  },
  180_000,
);
