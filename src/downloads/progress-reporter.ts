/**
 * Turns a stream of raw progress readings into stored and published progress (SPEC §3): at most
 * one write and one event per `PROGRESS_THROTTLE_MS` per job, phase changes at once, and a
 * percentage that never goes down.
 */
import type { Logger } from 'pino';
import { INITIAL_PROGRESS, type Phase, type Progress } from './job.js';

/** ~4 updates a second: smooth for a progress bar, cheap for the store and the sockets. */
export const PROGRESS_THROTTLE_MS = 250;

export interface ProgressReporterDeps {
  save(progress: Progress): Promise<unknown>;
  publish(progress: Progress): void;
  log: Logger;
  /** Where the bar stands already (a retry's stored progress); nothing below it is sent. */
  initial?: Progress;
  throttleMs?: number;
  clock?: () => number;
}

export function createProgressReporter(deps: ProgressReporterDeps) {
  const throttleMs = deps.throttleMs ?? PROGRESS_THROTTLE_MS;
  const now = deps.clock ?? Date.now;
  let current: Progress = { ...(deps.initial ?? INITIAL_PROGRESS) };
  let lastSent = 0;
  let pending = false;
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<unknown> = Promise.resolve();
  let stopped = false;

  function send(): Promise<unknown> {
    if (timer) clearTimeout(timer);
    timer = null;
    pending = false;
    lastSent = now();
    const snapshot = { ...current };
    deps.publish(snapshot);
    // Writes are chained so that they land in order.
    writing = writing
      .then(() => deps.save(snapshot))
      .catch((err: unknown) => deps.log.warn({ err }, 'could not store progress'));
    return writing;
  }

  /** Applies a reading; tells whether anything visible changed, and whether the phase did. */
  function merge(next: Partial<Progress>): { changed: boolean; phaseChanged: boolean } {
    const merged: Progress = {
      ...current,
      ...next,
      percentage: Math.min(100, Math.max(current.percentage, Math.floor(next.percentage ?? 0))),
    };
    const result = { changed: !sameProgress(current, merged), phaseChanged: merged.phase !== current.phase };
    current = merged;
    return result;
  }

  return {
    /** Moves to a new phase and sends it at once. */
    phase(phase: Phase): Promise<unknown> {
      if (stopped) return writing;
      merge({ phase });
      return send();
    },

    /** A reading from the downloader; sent now or within the throttle window. */
    report(next: Partial<Progress>): void {
      if (stopped) return;
      const { changed, phaseChanged } = merge(next);
      if (phaseChanged) {
        void send();
        return;
      }
      if (!changed) return;
      const wait = lastSent + throttleMs - now();
      if (wait <= 0) {
        void send();
      } else if (!pending) {
        pending = true;
        timer = setTimeout(() => void send(), wait);
      }
    },

    /** Sends what is pending and waits for every write. */
    async flush(): Promise<void> {
      if (pending) void send();
      await writing;
    },

    current(): Progress {
      return { ...current };
    },

    stop(): void {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

function sameProgress(a: Progress, b: Progress): boolean {
  return a.percentage === b.percentage && a.phase === b.phase && a.speed === b.speed && a.eta === b.eta;
}
