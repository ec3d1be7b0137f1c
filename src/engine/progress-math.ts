/**
 * Pure progress arithmetic (SPEC §2): one bar over the one or two parts of a download, weighted by
 * size, never moving backwards.
 */

/** The fields of yt-dlp's `%(progress)j` that the bar is computed from. */
export interface YtdlpProgress {
  status?: string;
  downloaded_bytes?: number | null;
  total_bytes?: number | null;
  total_bytes_estimate?: number | null;
  fragment_index?: number | null;
  fragment_count?: number | null;
  /** Bytes per second. */
  speed?: number | null;
  /** Seconds. */
  eta?: number | null;
  filename?: string;
  tmpfilename?: string;
}

function positive(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : null;
}

/**
 * Each part's share of the bar (summing to 1): proportional to the sizes when every size is known,
 * equal otherwise, since mixing a known size with a guess would skew the bar as badly as ignoring it.
 */
export function partWeights(sizes: readonly (number | null)[]): number[] {
  if (sizes.length === 0) return [1];
  const known = sizes.map(positive);
  if (known.every((s): s is number => s !== null)) {
    const total = known.reduce((a, b) => a + b, 0);
    return known.map((s) => s / total);
  }
  return sizes.map(() => 1 / sizes.length);
}

/** How far (0–1) one part has got, or null when the line says nothing measurable. */
export function partFraction(p: YtdlpProgress): number | null {
  if (p.status === 'finished') return 1;
  const done = typeof p.downloaded_bytes === 'number' ? p.downloaded_bytes : null;
  const total = positive(p.total_bytes) ?? positive(p.total_bytes_estimate);
  if (done !== null && total !== null) return clamp01(done / total);
  const count = positive(p.fragment_count);
  if (count !== null && typeof p.fragment_index === 'number') return clamp01(p.fragment_index / count);
  return null;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** The whole bar (0–100) when part `index` of `weights` is `fraction` done. */
export function combinedPercentage(weights: readonly number[], index: number, fraction: number): number {
  const i = Math.min(Math.max(0, index), weights.length - 1);
  let before = 0;
  for (let j = 0; j < i; j += 1) before += weights[j] ?? 0;
  return Math.min(100, Math.max(0, 100 * (before + (weights[i] ?? 0) * clamp01(fraction))));
}

/** The bar never moves backwards: a retried or restarted part cannot lower it. */
export function monotonic(previous: number, next: number): number {
  return Math.max(previous, next);
}

const SPEED_UNITS = ['B/s', 'KB/s', 'MB/s', 'GB/s'] as const;

/** `"2.0 MB/s"` (1024-based) for a speed in bytes per second, or null when unknown. */
export function formatSpeed(bytesPerSecond: number | null | undefined): string | null {
  let v = positive(bytesPerSecond);
  if (v === null) return null;
  let unit = 0;
  while (v >= 1024 && unit < SPEED_UNITS.length - 1) {
    v /= 1024;
    unit += 1;
  }
  return `${v.toFixed(1)} ${SPEED_UNITS[unit]}`;
}

/** Whole seconds, or null when yt-dlp does not know. */
export function wholeEta(eta: number | null | undefined): number | null {
  return typeof eta === 'number' && Number.isFinite(eta) && eta >= 0 ? Math.round(eta) : null;
}

export interface PartProgress {
  percentage: number;
  speed: string | null;
  eta: number | null;
}

/**
 * Follows the progress lines of one download over its parts (`A+B`): the part is found by the
 * format id being fetched, or, for selectors such as `bestvideo+bestaudio` whose real ids are not
 * known in advance, by a change of format id (or file) from one line to the next.
 */
export function createPartTracker(partIds: readonly string[], weights: readonly number[]) {
  let index = 0;
  let current: string | null = null;
  let percentage = 0;
  return {
    onProgress(formatId: string | null, p: YtdlpProgress): PartProgress {
      const key = formatId ?? p.filename ?? null;
      if (key !== null && key !== current) {
        const listed = formatId ? partIds.indexOf(formatId) : -1;
        if (listed >= 0) index = listed;
        else if (current !== null) index = Math.min(index + 1, weights.length - 1);
        current = key;
      }
      const fraction = partFraction(p);
      if (fraction !== null) percentage = monotonic(percentage, combinedPercentage(weights, index, fraction));
      return { percentage, speed: formatSpeed(p.speed), eta: wholeEta(p.eta) };
    },
    percentage: () => percentage,
  };
}
