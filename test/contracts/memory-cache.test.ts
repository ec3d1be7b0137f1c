import { describe, expect, it } from 'vitest';
import { createMemoryCache } from '../../src/cache/memory-cache.js';
import { createSingleFlight } from '../../src/cache/single-flight.js';
import { describeCacheContract } from './cache.contract.js';

describeCacheContract('memory', async () => {
  const cache = createMemoryCache();
  return { cache, cleanup: () => cache.close() };
});

function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('memory cache with a controlled clock', () => {
  it('keeps a value until the last millisecond of its TTL and drops it at the TTL', async () => {
    const clock = manualClock();
    const cache = createMemoryCache({ clock: clock.now });
    await cache.set('meta', { title: 't' }, 300);
    clock.advance(300_000 - 1);
    expect(await cache.get('meta')).toEqual({ title: 't' });
    clock.advance(1);
    expect(await cache.get('meta')).toBeNull();
  });

  it('reads a value set with undefined as null rather than failing', async () => {
    const cache = createMemoryCache();
    await cache.set('u', undefined, 60);
    expect(await cache.get('u')).toBeNull();
  });

  it('forgets everything on close', async () => {
    const cache = createMemoryCache();
    await cache.set('a', 1, 60);
    await cache.close();
    expect(await cache.get('a')).toBeNull();
  });
});

describe('single-flight', () => {
  it('shares one run among concurrent callers and ends the flight when it settles', async () => {
    const flights = createSingleFlight();
    let calls = 0;
    let release!: (v: string) => void;
    const fn = () => {
      calls += 1;
      return new Promise<string>((resolve) => {
        release = resolve;
      });
    };
    const a = flights.run('k', fn);
    const b = flights.run('k', fn);
    expect(flights.size).toBe(1);
    await Promise.resolve();
    release('done');
    expect(await Promise.all([a, b])).toEqual(['done', 'done']);
    expect(calls).toBe(1);
    expect(flights.size).toBe(0);
  });

  it('turns a synchronous throw into a rejection for every caller', async () => {
    const flights = createSingleFlight();
    const fn = (): Promise<never> => {
      throw new Error('boom');
    };
    const a = flights.run('k', fn);
    const b = flights.run('k', fn);
    await expect(a).rejects.toThrow('boom');
    await expect(b).rejects.toThrow('boom');
    expect(flights.size).toBe(0);
  });
});
