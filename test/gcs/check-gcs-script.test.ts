/**
 * `scripts/check-gcs.mjs`, the deployer's one-minute check of a real bucket, run here against the
 * emulator (no internet), so the script itself is known to work and to fail loudly.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGcsEmulator, type GcsEmulator } from './gcs-emulator.js';
import { createTestServiceAccount, type TestServiceAccount } from './service-account.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/check-gcs.mjs', import.meta.url));
const BUCKET = 'ultra-dl-check';

let dir: string;
let account: TestServiceAccount;
let emulator: GcsEmulator;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gcs-check-'));
  account = await createTestServiceAccount(dir);
  emulator = await startGcsEmulator({ buckets: [BUCKET], signer: account });
});

afterAll(async () => {
  await emulator?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs the script asynchronously: the emulator answering it lives in this process's event loop. */
function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.GCS_BUCKET_NAME;
  delete env.GOOGLE_APPLICATION_CREDENTIALS;
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('check-gcs script', () => {
  it('prints usage with --help', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: node scripts/check-gcs.mjs');
  });

  it('refuses to run without a bucket', async () => {
    const { code, stderr } = await run([]);
    expect(code).toBe(2);
    expect(stderr).toContain('GCS_BUCKET_NAME');
  });

  it('passes every step against a working bucket and leaves nothing behind', async () => {
    const { code, stdout } = await run(['--bucket', BUCKET, '--credentials', account.keyFile, '--endpoint', emulator.endpoint]);

    expect(stdout).toContain('GCS check passed');
    expect(code).toBe(0);
    expect(stdout.match(/^ok {4}/gm)?.length).toBe(8);
    expect(emulator.calls).toContain('signed:get');
    expect(emulator.calls).toContain('upload:resumable');
    expect(await emulator.objectNames(BUCKET)).toEqual([]);
    expect(emulator.unhandled).toEqual([]);
  });

  it('fails with a hint when the bucket does not exist', async () => {
    const { code, stdout } = await run(['--bucket', 'missing-bucket', '--credentials', account.keyFile, '--endpoint', emulator.endpoint]);

    expect(code).toBe(1);
    expect(stdout).toMatch(/FAIL {2}bucket metadata/);
    expect(stdout).toContain('hint:');
    expect(stdout).toContain('GCS check FAILED');
  });
});
