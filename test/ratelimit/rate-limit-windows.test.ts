import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { windowAt } from '../../src/ratelimit/rate-limit-windows.js';

const utc = (iso: string) => Date.parse(iso);

describe('UTC rate-limit windows', () => {
  it('names minute, hour and day windows by their UTC start', () => {
    const at = utc('2026-12-04T14:43:27.123Z');
    expect(windowAt('minute', at)).toEqual({
      id: '2026-12-04T14:43',
      startAt: utc('2026-12-04T14:43:00Z'),
      resetAt: utc('2026-12-04T14:44:00Z'),
    });
    expect(windowAt('hour', at)).toEqual({
      id: '2026-12-04T14',
      startAt: utc('2026-12-04T14:00:00Z'),
      resetAt: utc('2026-12-04T15:00:00Z'),
    });
    expect(windowAt('day', at)).toEqual({
      id: '2026-12-04',
      startAt: utc('2026-12-04T00:00:00Z'),
      resetAt: utc('2026-12-05T00:00:00Z'),
    });
  });

  it('turns over exactly at the boundary', () => {
    expect(windowAt('day', utc('2026-12-31T23:59:59.999Z')).id).toBe('2026-12-31');
    expect(windowAt('day', utc('2027-01-01T00:00:00.000Z')).id).toBe('2027-01-01');
    expect(windowAt('hour', utc('2026-12-04T14:59:59.999Z')).id).toBe('2026-12-04T14');
    expect(windowAt('hour', utc('2026-12-04T15:00:00.000Z')).id).toBe('2026-12-04T15');
    expect(windowAt('minute', utc('2026-12-04T14:43:59.999Z')).resetAt).toBe(utc('2026-12-04T14:44:00Z'));
  });

  it('handles leap days and year ends', () => {
    expect(windowAt('day', utc('2028-02-29T12:00:00Z'))).toMatchObject({
      id: '2028-02-29',
      resetAt: utc('2028-03-01T00:00:00Z'),
    });
    expect(windowAt('minute', utc('2026-12-31T23:59:30Z')).resetAt).toBe(utc('2027-01-01T00:00:00Z'));
  });
});

describe('UTC rate-limit windows on a host in another time zone', () => {
  const savedTz = process.env.TZ;
  beforeAll(() => {
    // Node applies a TZ change to every later Date operation of this process.
    process.env.TZ = 'America/Los_Angeles';
  });
  afterAll(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it('really runs in Los Angeles time', () => {
    // 08:00 UTC is midnight in Los Angeles (PST, UTC-8) in December.
    expect(new Date(utc('2026-12-04T08:00:00Z')).getHours()).toBe(0);
    expect(new Date(utc('2026-12-04T08:00:00Z')).getDate()).toBe(4);
    expect(new Date(utc('2026-12-04T07:59:00Z')).getDate()).toBe(3);
  });

  it('resets the day at UTC midnight, not local midnight', () => {
    const beforeLocalMidnight = windowAt('day', utc('2026-12-04T07:59:59Z'));
    const afterLocalMidnight = windowAt('day', utc('2026-12-04T08:00:01Z'));
    expect(afterLocalMidnight.id).toBe(beforeLocalMidnight.id);
    expect(beforeLocalMidnight).toEqual({
      id: '2026-12-04',
      startAt: utc('2026-12-04T00:00:00Z'),
      resetAt: utc('2026-12-05T00:00:00Z'),
    });
    // Local time on the 4th (16:00 on the 3rd in LA) is still the UTC day of the 4th.
    expect(windowAt('day', utc('2026-12-04T00:00:00Z')).id).toBe('2026-12-04');
    expect(windowAt('day', utc('2026-12-03T23:59:59Z')).id).toBe('2026-12-03');
  });

  it('keeps UTC hour windows across a daylight-saving change of the host', () => {
    // 2027-03-14 10:00 UTC is 02:00 PST, when Los Angeles jumps to 03:00 PDT.
    const h1 = windowAt('hour', utc('2027-03-14T09:30:00Z'));
    const h2 = windowAt('hour', utc('2027-03-14T10:30:00Z'));
    expect(h1).toMatchObject({ id: '2027-03-14T09', resetAt: utc('2027-03-14T10:00:00Z') });
    expect(h2).toMatchObject({ id: '2027-03-14T10', resetAt: utc('2027-03-14T11:00:00Z') });
  });
});
