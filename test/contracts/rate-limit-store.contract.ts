/**
 * The RateLimitStore contract (SPEC §7): atomic window counters with give-back and expiry.
 * Each factory call must give a store with no counters; TTLs are real (1 s).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RateLimitStore } from '../../src/ratelimit/rate-limit-store.js';

export type RateLimitStoreFactory = () => Promise<{ store: RateLimitStore; cleanup(): Promise<void> }>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function describeRateLimitStoreContract(name: string, factory: RateLimitStoreFactory): void {
  describe(`RateLimitStore contract: ${name}`, () => {
    let store: RateLimitStore;
    let cleanup: () => Promise<void>;
    const key = () => `per_minute:${randomUUID()}:2026-12-04T10:00`;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });
    afterEach(async () => {
      store.close();
      await cleanup();
    });

    it('counts each take, past the limit too', async () => {
      const k = key();
      const counts: number[] = [];
      for (let i = 0; i < 5; i++) counts.push(await store.take(k, 3, 60));
      expect(counts).toEqual([1, 2, 3, 4, 5]);
    });

    it('keeps keys apart', async () => {
      const a = key();
      const b = key();
      await store.take(a, 3, 60);
      await store.take(a, 3, 60);
      expect(await store.take(b, 3, 60)).toBe(1);
      expect(await store.take(a, 3, 60)).toBe(3);
    });

    it('gives back one point', async () => {
      const k = key();
      await store.take(k, 3, 60);
      await store.take(k, 3, 60);
      await store.giveBack(k, 3, 60);
      expect(await store.take(k, 3, 60)).toBe(2);
    });

    it('hands out distinct counts to concurrent takes (atomic)', async () => {
      const k = key();
      const counts = await Promise.all(Array.from({ length: 50 }, () => store.take(k, 3, 60)));
      expect([...counts].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it('forgets a counter after its TTL', async () => {
      const k = key();
      await store.take(k, 3, 1);
      await store.take(k, 3, 1);
      await sleep(1_300);
      expect(await store.take(k, 3, 1)).toBe(1);
    });
  });
}
