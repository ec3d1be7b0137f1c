/**
 * Shares one run of `fn` among concurrent callers of the same key in this process (SPEC §5:
 * concurrent requests for one URL share one yt-dlp run). The flight ends when `fn` settles, so a
 * later call runs `fn` again; caching the result is the caller's business.
 */
export function createSingleFlight() {
  const flights = new Map<string, Promise<unknown>>();

  return {
    run<T>(key: string, fn: () => Promise<T>): Promise<T> {
      const current = flights.get(key);
      if (current) return current as Promise<T>;
      // Called through a resolved promise so a synchronous throw in `fn` rejects every caller alike.
      const flight = Promise.resolve()
        .then(fn)
        .finally(() => {
          if (flights.get(key) === flight) flights.delete(key);
        });
      flights.set(key, flight);
      return flight;
    },

    /** Number of flights in the air. */
    get size(): number {
      return flights.size;
    },
  };
}

export type SingleFlight = ReturnType<typeof createSingleFlight>;
