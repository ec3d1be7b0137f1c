import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Progress } from '../../src/downloads/job.js';
import { createProgressReporter } from '../../src/downloads/progress-reporter.js';

function setup(throttleMs = 250) {
  let now = 0;
  const published: Progress[] = [];
  const saved: Progress[] = [];
  const reporter = createProgressReporter({
    save: async (p) => void saved.push(p),
    publish: (p) => void published.push(p),
    log: pino({ level: 'silent' }),
    throttleMs,
    clock: () => now,
  });
  return { reporter, published, saved, advance: (ms: number) => (now += ms) };
}

describe('progress reporter', () => {
  it('sends at most one update per throttle window and never goes down', async () => {
    const { reporter, published, advance } = setup();
    await reporter.phase('downloading');
    for (let i = 1; i <= 100; i++) {
      advance(10);
      reporter.report({ percentage: i % 7 === 0 ? i - 30 : i, phase: 'downloading', speed: `${i} KiB/s`, eta: 100 - i });
    }
    await reporter.flush();
    // 1 s of readings at 250 ms: the phase change plus about four updates.
    expect(published.length).toBeGreaterThanOrEqual(4);
    expect(published.length).toBeLessThanOrEqual(7);
    const percentages = published.map((p) => p.percentage);
    expect(percentages).toEqual([...percentages].sort((a, b) => a - b));
    expect(percentages.at(-1)).toBe(100);
    reporter.stop();
  });

  it('sends a phase change at once, whatever the throttle', async () => {
    const { reporter, published } = setup(10_000);
    await reporter.phase('downloading');
    reporter.report({ percentage: 40, phase: 'downloading' });
    reporter.report({ percentage: 97, phase: 'merging' });
    // The 40 % reading waits for its window; the phase change goes out at once and carries it.
    expect(published.map((p) => [p.phase, p.percentage])).toEqual([
      ['downloading', 0],
      ['merging', 97],
    ]);
    reporter.stop();
  });

  it('stores what it publishes, in order', async () => {
    const { reporter, published, saved, advance } = setup();
    await reporter.phase('downloading');
    for (let i = 0; i < 20; i++) {
      advance(300);
      reporter.report({ percentage: i * 5, phase: 'downloading' });
    }
    await reporter.flush();
    expect(saved).toEqual(published);
    reporter.stop();
  });

  it('clamps to whole numbers between 0 and 100', async () => {
    const { reporter, published } = setup(0);
    reporter.report({ percentage: 12.9, phase: 'downloading' });
    reporter.report({ percentage: 250, phase: 'downloading' });
    await reporter.flush();
    expect(published.map((p) => p.percentage)).toEqual([12, 100]);
    reporter.stop();
  });
});

describe('progress reporter on a retry', () => {
  it('goes on from the stored progress, never below it', async () => {
    const published: Progress[] = [];
    const reporter = createProgressReporter({
      save: async () => undefined,
      publish: (p) => void published.push(p),
      log: pino({ level: 'silent' }),
      initial: { percentage: 60, phase: 'downloading', speed: null, eta: null },
      throttleMs: 0,
    });
    await reporter.phase('extracting metadata');
    reporter.report({ percentage: 5, phase: 'downloading' });
    reporter.report({ percentage: 70, phase: 'downloading' });
    await reporter.flush();
    expect(published.map((p) => p.percentage)).toEqual([60, 60, 70]);
    reporter.stop();
  });
});
