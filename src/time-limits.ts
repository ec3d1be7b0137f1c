/**
 * Bounded waits, shared by every adapter and role: nothing we wait on (a store, a resolver, a
 * close) may hold a request or a shutdown longer than its bound.
 */

/** Settles like `promise`, or rejects with `error()` once `ms` pass first. */
export function rejectAfter<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(error()), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Waits for `promise` at most `ms`; resolves true when it settled in time, either way. Never
 * rejects, so a late rejection of `promise` is handled too.
 */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = promise.then(
    () => true,
    () => true,
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  return Promise.race([settled, timeout]).finally(() => clearTimeout(timer));
}
