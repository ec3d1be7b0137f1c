import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  combinedPercentage,
  createPartTracker,
  formatSpeed,
  monotonic,
  partFraction,
  partWeights,
  wholeEta,
} from '../../src/engine/progress-math.js';

describe('partWeights', () => {
  it.each([
    [[800, 200], [0.8, 0.2]],
    [[1, 1], [0.5, 0.5]],
    [[100], [1]],
    [[800, null], [0.5, 0.5]],
    [[null, null], [0.5, 0.5]],
    [[0, 500], [0.5, 0.5]],
    [[], [1]],
  ] as [(number | null)[], number[]][])('%j → %j', (sizes, weights) => {
    const got = partWeights(sizes);
    expect(got).toHaveLength(weights.length);
    got.forEach((w, i) => expect(w).toBeCloseTo(weights[i]!, 10));
  });

  it('always sums to 1', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: 1, max: 1e12 }), { nil: null }), { minLength: 1, maxLength: 4 }), (sizes) => {
        expect(partWeights(sizes).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      }),
    );
  });
});

describe('partFraction', () => {
  it.each([
    [{ status: 'downloading', downloaded_bytes: 250, total_bytes: 1000 }, 0.25],
    [{ status: 'downloading', downloaded_bytes: 250, total_bytes: null, total_bytes_estimate: 500 }, 0.5],
    [{ status: 'downloading', downloaded_bytes: 2000, total_bytes: 1000 }, 1],
    [{ status: 'downloading', fragment_index: 3, fragment_count: 12 }, 0.25],
    [{ status: 'finished', downloaded_bytes: 5 }, 1],
    [{ status: 'downloading', downloaded_bytes: 100 }, null],
    [{ status: 'downloading', downloaded_bytes: 100, total_bytes: 0 }, null],
  ])('%j → %s', (progress, fraction) => {
    expect(partFraction(progress)).toBe(fraction);
  });
});

describe('combinedPercentage', () => {
  it.each([
    [[0.8, 0.2], 0, 0.5, 40],
    [[0.8, 0.2], 0, 1, 80],
    [[0.8, 0.2], 1, 0, 80],
    [[0.8, 0.2], 1, 0.5, 90],
    [[0.8, 0.2], 1, 1, 100],
    [[1], 0, 0.333, 33.3],
    [[0.5, 0.5], 5, 1, 100],
  ])('weights %j, part %i at %f → %f', (weights, index, fraction, pct) => {
    expect(combinedPercentage(weights, index, fraction)).toBeCloseTo(pct, 6);
  });

  it('never goes backwards when parts run in order and each part only advances', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 1e9 }), { minLength: 1, maxLength: 2 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 30 }),
        (sizes, steps) => {
          const weights = partWeights(sizes);
          let last = 0;
          for (let index = 0; index < weights.length; index += 1) {
            const sorted = [...steps].sort((a, b) => a - b);
            for (const f of sorted) {
              const pct = combinedPercentage(weights, index, f);
              expect(pct).toBeGreaterThanOrEqual(last - 1e-9);
              last = pct;
            }
          }
          expect(combinedPercentage(weights, weights.length - 1, 1)).toBeCloseTo(100, 9);
        },
      ),
    );
  });
});

describe('monotonic', () => {
  it('keeps the bar from dropping when a part restarts', () => {
    const seen = [10, 40, 5, 60, 59].reduce<number[]>((acc, p) => [...acc, monotonic(acc.at(-1) ?? 0, p)], []);
    expect(seen).toEqual([10, 40, 40, 60, 60]);
  });
});

describe('formatSpeed and wholeEta', () => {
  it.each([
    [2 * 1024 * 1024, '2.0 MB/s'],
    [1536, '1.5 KB/s'],
    [512, '512.0 B/s'],
    [3.5 * 1024 ** 3, '3.5 GB/s'],
    [null, null],
    [0, null],
    [Number.NaN, null],
  ])('%s B/s → %s', (speed, text) => {
    expect(formatSpeed(speed)).toBe(text);
  });

  it.each([
    [12.4, 12],
    [0, 0],
    [null, null],
    [-1, null],
    [Number.POSITIVE_INFINITY, null],
  ])('eta %s → %s', (eta, whole) => {
    expect(wholeEta(eta)).toBe(whole);
  });
});

describe('createPartTracker', () => {
  const line = (downloaded: number, total: number, extra: Record<string, unknown> = {}) => ({
    status: 'downloading',
    downloaded_bytes: downloaded,
    total_bytes: total,
    ...extra,
  });

  it('counts both parts of A+B in one bar, weighted', () => {
    const t = createPartTracker(['137', '140'], [0.75, 0.25]);
    expect(t.onProgress('137', line(50, 100)).percentage).toBeCloseTo(37.5);
    expect(t.onProgress('137', { status: 'finished' }).percentage).toBeCloseTo(75);
    expect(t.onProgress('140', line(0, 10)).percentage).toBeCloseTo(75);
    expect(t.onProgress('140', line(5, 10)).percentage).toBeCloseTo(87.5);
    expect(t.onProgress('140', { status: 'finished' }).percentage).toBeCloseTo(100);
  });

  it('finds the part by id even when yt-dlp fetches B first', () => {
    const t = createPartTracker(['137', '140'], [0.5, 0.5]);
    expect(t.onProgress('140', line(5, 10)).percentage).toBeCloseTo(75);
    // A going back to part A cannot lower the bar.
    expect(t.onProgress('137', line(5, 10)).percentage).toBeCloseTo(75);
  });

  it('moves to the next part when a selector pair changes format id', () => {
    const t = createPartTracker(['bestvideo', 'bestaudio'], [0.5, 0.5]);
    expect(t.onProgress('137', line(10, 10)).percentage).toBeCloseTo(50);
    expect(t.onProgress('251', line(2, 10)).percentage).toBeCloseTo(60);
    // A third id (cannot happen with two parts) stays on the last part.
    expect(t.onProgress('999', line(10, 10)).percentage).toBeCloseTo(100);
  });

  it('falls back to the file name when no format id is printed', () => {
    const t = createPartTracker(['a', 'b'], [0.5, 0.5]);
    t.onProgress(null, line(10, 10, { filename: 'x.fa.mp4' }));
    expect(t.onProgress(null, line(5, 10, { filename: 'x.fb.m4a' })).percentage).toBeCloseTo(75);
  });

  it('keeps the bar when a part restarts after an error, and passes speed and eta on', () => {
    const t = createPartTracker(['mp4'], [1]);
    t.onProgress('mp4', line(80, 100));
    const restarted = t.onProgress('mp4', line(10, 100, { speed: 2 * 1024 * 1024, eta: 3.6 }));
    expect(restarted).toEqual({ percentage: 80, speed: '2.0 MB/s', eta: 4 });
    expect(t.percentage()).toBe(80);
  });

  it('ignores lines without anything measurable', () => {
    const t = createPartTracker(['mp4'], [1]);
    t.onProgress('mp4', line(30, 100));
    expect(t.onProgress('mp4', { status: 'downloading', downloaded_bytes: 50 }).percentage).toBeCloseTo(30);
  });
});
