import { describe, expect, it } from 'vitest';
import { ifRangeAllows, isNotModified, parseRange, validatorsFor } from '../../src/files/http-preconditions.js';

const MTIME = Date.UTC(2026, 11, 4, 12, 30, 15, 250);
const v = validatorsFor('job/a.mp4', 1000, MTIME);

describe('validatorsFor', () => {
  it('gives a strong quoted ETag that changes with key, size and mtime', () => {
    expect(v.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(validatorsFor('job/a.mp4', 1000, MTIME).etag).toBe(v.etag);
    expect(validatorsFor('job/b.mp4', 1000, MTIME).etag).not.toBe(v.etag);
    expect(validatorsFor('job/a.mp4', 1001, MTIME).etag).not.toBe(v.etag);
    expect(validatorsFor('job/a.mp4', 1000, MTIME + 1).etag).not.toBe(v.etag);
  });

  it('gives Last-Modified as an IMF-fixdate in whole seconds', () => {
    expect(v.lastModified).toBe('Fri, 04 Dec 2026 12:30:15 GMT');
  });
});

describe('isNotModified', () => {
  it('matches If-None-Match by weak comparison, in a list, or *', () => {
    expect(isNotModified({ ifNoneMatch: v.etag }, v)).toBe(true);
    expect(isNotModified({ ifNoneMatch: `W/${v.etag}` }, v)).toBe(true);
    expect(isNotModified({ ifNoneMatch: `"other", ${v.etag}` }, v)).toBe(true);
    expect(isNotModified({ ifNoneMatch: '*' }, v)).toBe(true);
    expect(isNotModified({ ifNoneMatch: '"other"' }, v)).toBe(false);
  });

  it('uses If-Modified-Since at second precision', () => {
    expect(isNotModified({ ifModifiedSince: v.lastModified }, v)).toBe(true);
    expect(isNotModified({ ifModifiedSince: 'Fri, 04 Dec 2026 13:00:00 GMT' }, v)).toBe(true);
    expect(isNotModified({ ifModifiedSince: 'Fri, 04 Dec 2026 12:30:14 GMT' }, v)).toBe(false);
    expect(isNotModified({ ifModifiedSince: 'not a date' }, v)).toBe(false);
  });

  it('lets If-None-Match decide over If-Modified-Since', () => {
    expect(isNotModified({ ifNoneMatch: '"other"', ifModifiedSince: v.lastModified }, v)).toBe(false);
  });

  it('is false without conditional headers', () => {
    expect(isNotModified({}, v)).toBe(false);
  });
});

describe('ifRangeAllows', () => {
  it('applies the range only for the current strong ETag or exact date', () => {
    expect(ifRangeAllows(undefined, v)).toBe(true);
    expect(ifRangeAllows(v.etag, v)).toBe(true);
    expect(ifRangeAllows(`W/${v.etag}`, v)).toBe(false);
    expect(ifRangeAllows('"stale"', v)).toBe(false);
    expect(ifRangeAllows(v.lastModified, v)).toBe(true);
    expect(ifRangeAllows('Fri, 04 Dec 2026 12:30:16 GMT', v)).toBe(false);
    expect(ifRangeAllows('garbage', v)).toBe(false);
  });
});

describe('parseRange', () => {
  it.each([
    ['bytes=0-99', { start: 0, end: 99 }],
    ['bytes=900-', { start: 900, end: 999 }],
    ['bytes=-100', { start: 900, end: 999 }],
    ['bytes=-5000', { start: 0, end: 999 }],
    ['bytes=990-5000', { start: 990, end: 999 }],
    ['bytes=999-999', { start: 999, end: 999 }],
    ['Bytes = 5-9', { start: 5, end: 9 }],
  ])('%s is a partial range', (header, range) => {
    expect(parseRange(header, 1000)).toEqual({ kind: 'partial', range });
  });

  it.each(['bytes=1000-', 'bytes=5000-6000', 'bytes=-0', 'bytes=9-5', 'bytes=x-y', 'bytes=-', 'bytes=', 'bytes=1.5-2'])(
    '%s is unsatisfiable',
    (header) => {
      expect(parseRange(header, 1000)).toEqual({ kind: 'unsatisfiable' });
    },
  );

  it('answers several ranges, other units and no header with the whole file', () => {
    expect(parseRange('bytes=0-1,5-9', 1000)).toEqual({ kind: 'full' });
    expect(parseRange('items=0-1', 1000)).toEqual({ kind: 'full' });
    expect(parseRange('garbage', 1000)).toEqual({ kind: 'full' });
    expect(parseRange(undefined, 1000)).toEqual({ kind: 'full' });
  });

  it('finds no satisfiable range in an empty file', () => {
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-10', 0)).toEqual({ kind: 'unsatisfiable' });
  });
});
