import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createApiKeyCheck, offeredKeys, unauthorizedError } from '../../src/realtime/socket-api-key.js';
import { MAX_JOB_ID_LENGTH, parseJobId } from '../../src/realtime/socket-events.js';

describe('parseJobId', () => {
  it('reads job_id from an object or from the same object as a JSON string', () => {
    expect(parseJobId({ job_id: 'abc-123' })).toBe('abc-123');
    expect(parseJobId('{"job_id":"abc-123"}')).toBe('abc-123');
    expect(parseJobId({ job_id: 'abc', extra: true })).toBe('abc');
  });

  it.each([
    undefined,
    null,
    '',
    'abc',
    '{"job_id": ',
    '["abc"]',
    42,
    [],
    ['abc'],
    {},
    { job_id: '' },
    { job_id: ' padded ' },
    { job_id: 7 },
    { job_id: null },
    { job_id: { nested: 'x' } },
    { job_id: 'x'.repeat(MAX_JOB_ID_LENGTH + 1) },
    JSON.stringify({ job_id: 'x'.repeat(MAX_JOB_ID_LENGTH + 1) }),
    () => 'ack',
  ])('finds no job id in %j', (payload) => {
    expect(parseJobId(payload)).toBeNull();
  });

  it('never throws, and returns only a non-empty string of at most 100 characters', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.json(), fc.record({ job_id: fc.anything() })), (payload) => {
        const id = parseJobId(payload);
        if (id !== null) {
          expect(typeof id).toBe('string');
          expect(id.length).toBeGreaterThan(0);
          expect(id.length).toBeLessThanOrEqual(MAX_JOB_ID_LENGTH);
        }
      }),
    );
  });

  it('round-trips any valid id through both payload shapes', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: MAX_JOB_ID_LENGTH }).filter((s) => s.trim() === s), (id) => {
        expect(parseJobId({ job_id: id })).toBe(id);
        expect(parseJobId(JSON.stringify({ job_id: id }))).toBe(id);
      }),
    );
  });
});

describe('handshake API keys', () => {
  const check = createApiKeyCheck(['alpha', 'beta']);

  it('collects keys from X-API-Key, Authorization: Bearer, auth.apiKey and auth.token', () => {
    expect(
      offeredKeys({
        headers: { 'x-api-key': 'h', authorization: 'Bearer b' },
        auth: { apiKey: 'a', token: 't', other: 'o' },
      }),
    ).toEqual(['h', 'b', 'a', 't']);
    expect(offeredKeys({ headers: { authorization: 'Basic Zm9vOmJhcg==' }, auth: { apiKey: 5 } })).toEqual([]);
  });

  it('accepts a configured key wherever it is offered, and nothing else', () => {
    expect(check({ headers: { 'x-api-key': 'beta' }, auth: {} })).toBe(true);
    expect(check({ headers: { authorization: 'bearer alpha' }, auth: {} })).toBe(true);
    expect(check({ headers: {}, auth: { token: 'alpha' } })).toBe(true);
    expect(check({ headers: { 'x-api-key': 'wrong' }, auth: { apiKey: 'beta' } })).toBe(true);
    expect(check({ headers: {}, auth: {} })).toBe(false);
    expect(check({ headers: { 'x-api-key': 'alph' }, auth: { token: 'alphaa' } })).toBe(false);
    expect(check({ headers: { authorization: 'alpha' }, auth: {} })).toBe(false);
  });

  it('lets everyone in when no key is configured', () => {
    expect(createApiKeyCheck([])({ headers: {}, auth: {} })).toBe(true);
  });

  it('refuses with message unauthorized and the SPEC error body as data', () => {
    const err = unauthorizedError();
    expect(err.message).toBe('unauthorized');
    expect(err.data).toEqual({
      error: 'unauthorized',
      title: 'Unauthorized',
      message: 'A valid API key is required.',
      action: 'Provide your API key in the X-API-Key header.',
    });
  });
});
