/** The `ultra-dl` command's front door: usage, clear start-up errors and exit codes. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MAIN_JS } from '../helpers/spawn-service.js';

const run = promisify(execFile);

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN_JS, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: 20_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('ultra-dl command', () => {
  it('prints its usage', async () => {
    const res = await cli(['--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/serve[\s\S]*api[\s\S]*worker/);
  });

  it('refuses an unknown command with exit 2', async () => {
    const res = await cli(['frobnicate']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('unknown command');
  });

  it('names every bad variable and exits non-zero', async () => {
    const res = await cli(['serve'], { PORT: 'x', WORKER_CONCURRENCY: '-3', FILE_TTL_MINUTES: 'ten' });
    expect(res.code).toBe(2);
    for (const name of ['PORT', 'WORKER_CONCURRENCY', 'FILE_TTL_MINUTES']) expect(res.stderr).toContain(name);
    expect(res.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it.each(['api', 'worker'])('explains that `%s` needs REDIS_URL', async (command) => {
    const res = await cli([command]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('REDIS_URL');
  });
});
