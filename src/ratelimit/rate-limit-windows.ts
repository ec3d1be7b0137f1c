/**
 * Fixed UTC calendar windows for the rate limits (SPEC §7). The window id goes into the counter key,
 * so a window starts at the UTC minute, hour or midnight, not at a client's first request (which is
 * how the library's own durations work), and never depends on the host's time zone.
 */

export type WindowKind = 'minute' | 'hour' | 'day';

export interface Window {
  /** E.g. `2026-12-04T14:43` (minute), `2026-12-04T14` (hour), `2026-12-04` (day). */
  id: string;
  /** Unix ms of the window's first instant. */
  startAt: number;
  /** Unix ms of the next window's first instant. */
  resetAt: number;
}

const WINDOW_MS: Record<WindowKind, number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** The UTC window of `kind` that contains `nowMs`. */
export function windowAt(kind: WindowKind, nowMs: number): Window {
  // Unix time has no leap seconds, so UTC windows are exact multiples of their length since the epoch.
  const length = WINDOW_MS[kind];
  const startAt = Math.floor(nowMs / length) * length;
  const iso = new Date(startAt).toISOString();
  const idLength = kind === 'day' ? 10 : kind === 'hour' ? 13 : 16;
  return { id: iso.slice(0, idLength), startAt, resetAt: startAt + length };
}
