/** A small JSON cache with TTLs (SPEC §5). */
export interface Cache {
  get<T>(key: string): Promise<T | null>;
  set(key: string, value: unknown, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Runs `fn` once for concurrent callers of the same key (in this process, and across processes
   * where the adapter can) and gives them all its result.
   */
  singleFlight<T>(key: string, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
