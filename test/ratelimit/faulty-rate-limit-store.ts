/**
 * A RateLimitStore whose failures the test controls, around a real memory store: it can work,
 * throw (a store error), or never answer (a hung connection).
 */
import { createRateLimitStore, type RateLimitStore } from '../../src/ratelimit/rate-limit-store.js';

export type FaultMode = 'ok' | 'throw' | 'hang';

export interface FaultyStore {
  store: RateLimitStore;
  mode: FaultMode;
  /** Fails from the n-th take on (1-based), for failures in the middle of one request. */
  failFromTake: number | null;
  takes: number;
  giveBacks: number;
}

export function createFaultyStore(mode: FaultMode = 'throw'): FaultyStore {
  const real = createRateLimitStore({ kind: 'memory' });
  const state: FaultyStore = {
    mode,
    failFromTake: null,
    takes: 0,
    giveBacks: 0,
    store: {
      take(key, limit, ttlSeconds) {
        state.takes += 1;
        const failing = state.failFromTake === null ? state.mode : state.takes >= state.failFromTake ? state.mode : 'ok';
        if (failing === 'throw') return Promise.reject(new Error('ECONNRESET: store connection lost'));
        if (failing === 'hang') return new Promise<number>(() => {});
        return real.take(key, limit, ttlSeconds);
      },
      giveBack(key, limit, ttlSeconds) {
        state.giveBacks += 1;
        if (state.mode === 'throw' && state.failFromTake === null) return Promise.reject(new Error('store down'));
        return real.giveBack(key, limit, ttlSeconds);
      },
      close() {
        real.close();
      },
    },
  };
  return state;
}
