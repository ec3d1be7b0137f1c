import { describe, expect, it } from 'vitest';
import { rejectAfter, settlesWithin } from '../../src/time-limits.js';

const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('rejectAfter', () => {
  it('settles like the promise when it is in time', async () => {
    await expect(rejectAfter(later(5, 'v'), 200, () => new Error('late'))).resolves.toBe('v');
    await expect(rejectAfter(Promise.reject(new Error('own')), 200, () => new Error('late'))).rejects.toThrow('own');
  });

  it('rejects with its own error when the bound passes first', async () => {
    await expect(rejectAfter(later(500, 'v'), 20, () => new Error('late'))).rejects.toThrow('late');
  });
});

describe('settlesWithin', () => {
  it('tells whether the promise settled in time, and never rejects', async () => {
    expect(await settlesWithin(later(5, 1), 200)).toBe(true);
    expect(await settlesWithin(Promise.reject(new Error('x')), 200)).toBe(true);
    expect(await settlesWithin(later(500, 1), 20)).toBe(false);
    // A rejection after the bound is handled: no unhandled rejection reaches the runner.
    const late = new Promise((_resolve, reject) => setTimeout(() => reject(new Error('after')), 30));
    expect(await settlesWithin(late, 5)).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
  });
});
