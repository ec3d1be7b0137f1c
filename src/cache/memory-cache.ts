import type { Cache } from './cache.js';
import { createSingleFlight } from './single-flight.js';

/**
 * How often, at most, `set` sweeps out expired entries. Reads already ignore them; the sweep only
 * bounds memory when many URLs are looked up once and never again.
 */
const SWEEP_INTERVAL_MS = 60_000;

interface Entry {
  /** Kept as JSON, so callers never share an object with the cache, as with Redis. */
  json: string;
  expiresAt: number;
}

export interface MemoryCacheOptions {
  clock?: () => number;
}

/** The embedded mode's Cache: an in-process map with TTLs, and in-process single-flight. */
export function createMemoryCache(options: MemoryCacheOptions = {}): Cache {
  const clock = options.clock ?? Date.now;
  const entries = new Map<string, Entry>();
  const flights = createSingleFlight();
  let lastSweep = clock();

  function sweep(now: number): void {
    if (now - lastSweep < SWEEP_INTERVAL_MS) return;
    lastSweep = now;
    for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key);
  }

  return {
    async get<T>(key: string): Promise<T | null> {
      const entry = entries.get(key);
      if (!entry) return null;
      if (entry.expiresAt <= clock()) {
        entries.delete(key);
        return null;
      }
      return JSON.parse(entry.json) as T;
    },

    async set(key: string, value: unknown, ttlSeconds: number) {
      const now = clock();
      sweep(now);
      // JSON.stringify(undefined) is undefined; store it as null, which is what a read answers.
      const json = JSON.stringify(value) ?? 'null';
      entries.set(key, { json, expiresAt: now + ttlSeconds * 1000 });
    },

    async delete(key: string) {
      entries.delete(key);
    },

    singleFlight<T>(key: string, fn: () => Promise<T>): Promise<T> {
      return flights.run(key, fn);
    },

    async close() {
      entries.clear();
    },
  };
}
