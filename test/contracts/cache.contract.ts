/**
 * The Cache contract (SPEC §5): JSON values with TTLs and single-flight.
 * Each factory call must give an empty cache. TTLs are real (1 s), as some backends keep time
 * themselves; adapter tests may add controllable-clock cases.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/cache/cache.js';

export type CacheFactory = () => Promise<{ cache: Cache; cleanup(): Promise<void> }>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // An adapter may call `fn` only after async work (a lock), i.e. after the test rejected the
  // gate; the rejection is then observed later, which must not count as unhandled.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export function describeCacheContract(name: string, factory: CacheFactory): void {
  describe(`Cache contract: ${name}`, () => {
    let cache: Cache;
    let cleanup: () => Promise<void>;
    const key = () => `k:${randomUUID()}`;

    beforeEach(async () => {
      ({ cache, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('get, set and delete', () => {
      it('answers null for a key never set', async () => {
        expect(await cache.get(key())).toBeNull();
      });

      it('round-trips JSON values', async () => {
        const values: unknown[] = [
          { title: 'Vidéo 日本語', duration: null, formats: [{ id: '137', height: 1080 }] },
          [1, 'two', { three: 3 }],
          'plain text',
          42,
          false,
        ];
        for (const value of values) {
          const k = key();
          await cache.set(k, value, 60);
          expect(await cache.get(k)).toEqual(value);
        }
      });

      it('keeps a copy: changing the object after set does not change the cached value', async () => {
        const k = key();
        const value = { list: [1, 2] };
        await cache.set(k, value, 60);
        value.list.push(3);
        const got = await cache.get<{ list: number[] }>(k);
        expect(got).toEqual({ list: [1, 2] });
        got!.list.push(4);
        expect(await cache.get(k)).toEqual({ list: [1, 2] });
      });

      it('overwrites a value', async () => {
        const k = key();
        await cache.set(k, { v: 1 }, 60);
        await cache.set(k, { v: 2 }, 60);
        expect(await cache.get(k)).toEqual({ v: 2 });
      });

      it('deletes a value, and deleting a missing key is harmless', async () => {
        const k = key();
        await cache.set(k, 'x', 60);
        await cache.delete(k);
        expect(await cache.get(k)).toBeNull();
        await expect(cache.delete(key())).resolves.toBeUndefined();
      });

      it('keeps keys apart', async () => {
        const a = key();
        const b = key();
        await cache.set(a, 'a', 60);
        await cache.set(b, 'b', 60);
        await cache.delete(a);
        expect(await cache.get(b)).toBe('b');
      });
    });

    describe('TTL', () => {
      it('forgets a value after its TTL, not before', async () => {
        const short = key();
        const long = key();
        await cache.set(short, 'short', 1);
        await cache.set(long, 'long', 60);
        expect(await cache.get(short)).toBe('short');
        await sleep(1_300);
        expect(await cache.get(short)).toBeNull();
        expect(await cache.get(long)).toBe('long');
      });

      it('restarts the TTL when a value is set again', async () => {
        const k = key();
        await cache.set(k, 'first', 1);
        await cache.set(k, 'second', 60);
        await sleep(1_300);
        expect(await cache.get(k)).toBe('second');
      });
    });

    describe('singleFlight', () => {
      it('runs the function once for concurrent callers and gives them all its result', async () => {
        const k = key();
        const gate = deferred<{ n: number }>();
        let calls = 0;
        const fn = () => {
          calls += 1;
          return gate.promise;
        };
        const callers = [cache.singleFlight(k, fn), cache.singleFlight(k, fn), cache.singleFlight(k, fn)];
        await sleep(20);
        gate.resolve({ n: 7 });
        const results = await Promise.all(callers);
        expect(calls).toBe(1);
        expect(results).toEqual([{ n: 7 }, { n: 7 }, { n: 7 }]);
      });

      it('runs separately for different keys', async () => {
        let calls = 0;
        const fn = async () => {
          calls += 1;
          await sleep(10);
          return calls;
        };
        await Promise.all([cache.singleFlight(key(), fn), cache.singleFlight(key(), fn)]);
        expect(calls).toBe(2);
      });

      it('runs the function again once the previous flight settled', async () => {
        const k = key();
        let calls = 0;
        const fn = async () => {
          calls += 1;
          return calls;
        };
        expect(await cache.singleFlight(k, fn)).toBe(1);
        expect(await cache.singleFlight(k, fn)).toBe(2);
      });

      it('gives every concurrent caller the rejection, and a later call tries again', async () => {
        const k = key();
        const gate = deferred<string>();
        let calls = 0;
        const failing = () => {
          calls += 1;
          return gate.promise;
        };
        const callers = [cache.singleFlight(k, failing), cache.singleFlight(k, failing)];
        gate.reject(new Error('extractor failed'));
        // Settle all at once: awaiting one by one would leave the others' rejections unobserved.
        const results = await Promise.allSettled(callers);
        for (const result of results) {
          expect(result.status).toBe('rejected');
          expect((result as PromiseRejectedResult).reason).toBeInstanceOf(Error);
          expect(((result as PromiseRejectedResult).reason as Error).message).toContain('extractor failed');
        }
        expect(calls).toBe(1);
        expect(await cache.singleFlight(k, async () => 'ok')).toBe('ok');
      });
    });
  });
}
