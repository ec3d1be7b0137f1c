/**
 * Statistics and the result model of a benchmark run. A latency figure is the median of paired
 * runs (ours, then the baseline, alternating), shown with its spread; a ratio always compares two
 * figures measured in the same run, because absolute times drift on shared machines.
 */

/** One entry of `bench/results.json`. */
export interface Metric {
  value: number;
  baseline: number | null;
  ratio: number | null;
  unit: string;
  target: string;
  /** Whether `value`/`ratio` meet `target`; null where the target is informational. */
  pass: boolean | null;
  /** e.g. `"p25–p75 601–640, n=10"`: how far the samples behind `value` spread. */
  spread: string;
}

export type Metrics = Record<string, Metric>;

/** Linear-interpolated quantile `q` (0–1) of the samples. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export const median = (samples: readonly number[]): number => quantile(samples, 0.5);

export function round(n: number, digits = 2): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** `p25–p75 a–b, n=N` (interquartile range), or `min–max` for fewer than 4 samples. */
export function spreadOf(samples: readonly number[], digits = 1): string {
  if (samples.length < 4) {
    return `min–max ${round(Math.min(...samples), digits)}–${round(Math.max(...samples), digits)}, n=${samples.length}`;
  }
  return `p25–p75 ${round(quantile(samples, 0.25), digits)}–${round(quantile(samples, 0.75), digits)}, n=${samples.length}`;
}

export interface Paired {
  ours: number[];
  base: number[];
  /** ours − base, per pair. */
  diffs: number[];
}

/**
 * Runs `pairs` pairs, ours first then the baseline, so both see the same machine state; each
 * function returns one sample. A warm-up pair is run and dropped first when `warmup` is set.
 */
export async function paired(
  pairs: number,
  ours: (i: number) => Promise<number>,
  base: (i: number) => Promise<number>,
  opts: { warmup?: boolean } = {},
): Promise<Paired> {
  if (opts.warmup) {
    await ours(-1);
    await base(-1);
  }
  const result: Paired = { ours: [], base: [], diffs: [] };
  for (let i = 0; i < pairs; i++) {
    const a = await ours(i);
    const b = await base(i);
    result.ours.push(a);
    result.base.push(b);
    result.diffs.push(a - b);
  }
  return result;
}

/** Milliseconds taken by `fn`. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function metric(m: Omit<Metric, 'ratio'> & { ratio?: number | null }): Metric {
  const ratio = m.ratio !== undefined ? m.ratio : m.baseline ? m.value / m.baseline : null;
  return {
    value: round(m.value),
    baseline: m.baseline === null ? null : round(m.baseline),
    ratio: ratio === null ? null : round(ratio, 3),
    unit: m.unit,
    target: m.target,
    pass: m.pass,
    spread: m.spread,
  };
}

const MB = 1024 * 1024;
export const toMB = (bytes: number): number => bytes / MB;

/** The results as a Markdown table (also what the README shows). */
export function formatTable(metrics: Metrics): string {
  const rows = [
    '| metric | ultra-dl | baseline | ratio | unit | target | spread | pass |',
    '|---|---:|---:|---:|---|---|---|---|',
  ];
  for (const [name, m] of Object.entries(metrics)) {
    const pass = m.pass === null ? '–' : m.pass ? 'yes' : '**no**';
    rows.push(
      `| ${name} | ${m.value} | ${m.baseline ?? '–'} | ${m.ratio ?? '–'} | ${m.unit} | ${m.target} | ${m.spread} | ${pass} |`,
    );
  }
  return rows.join('\n');
}
