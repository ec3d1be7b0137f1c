import { afterEach, describe, expect, it } from 'vitest';
import { startClusterCleanup, type ClusterCleanup } from '../../src/files/cluster-cleanup.js';
import { TEST_REDIS_URL, deleteKeys, silentLogger, uniquePrefix } from './redis-test-env.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('cluster-wide cleanup', () => {
  const prefix = uniquePrefix();
  const started: ClusterCleanup[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((c) => c.close()));
    await deleteKeys(TEST_REDIS_URL, prefix);
  });

  it('runs once per interval across two processes, not once per process', async () => {
    const INTERVAL_MS = 600;
    const runs: { at: number; by: string }[] = [];
    const instance = (by: string) =>
      startClusterCleanup({
        url: TEST_REDIS_URL,
        prefix,
        intervalMs: INTERVAL_MS,
        logger: silentLogger,
        run: async () => void runs.push({ at: Date.now(), by }),
      });
    const t0 = Date.now();
    started.push(await instance('a'));
    await sleep(250);
    started.push(await instance('b'));
    await sleep(4_000);
    const elapsed = Date.now() - t0;

    // One process per interval would give ~elapsed/interval runs; two per-process timers twice that.
    expect(runs.length).toBeGreaterThanOrEqual(Math.floor(elapsed / INTERVAL_MS) - 2);
    expect(runs.length).toBeLessThanOrEqual(Math.ceil(elapsed / INTERVAL_MS) + 1);
    const gaps = runs.slice(1).map((r, i) => r.at - runs[i]!.at);
    for (const gap of gaps) expect(gap).toBeGreaterThan(INTERVAL_MS * 0.5);
  });

  it('keeps running after one process stops', async () => {
    const runs: string[] = [];
    const a = await startClusterCleanup({
      url: TEST_REDIS_URL, prefix, intervalMs: 400, logger: silentLogger,
      run: async () => void runs.push('a'),
    });
    started.push(
      await startClusterCleanup({
        url: TEST_REDIS_URL, prefix, intervalMs: 400, logger: silentLogger,
        run: async () => void runs.push('b'),
      }),
    );
    await a.close();
    const before = runs.length;
    await sleep(1_500);
    expect(runs.length - before).toBeGreaterThanOrEqual(2);
    expect(runs.slice(before).every((by) => by === 'b')).toBe(true);
  });
});
