import { describe, expect, it } from 'vitest';
import { newJob, type Job } from '../../src/downloads/job.js';
import { stateEvent, timeRemaining, toJobStatus } from '../../src/downloads/job-view.js';

const base = newJob({ id: 'j1', url: 'http://127.0.0.1/v.mp4', formatId: '18', downloadType: 'video-audio', clientKey: null, now: 0 });
const links = { publicBaseUrl: null };

describe('toJobStatus', () => {
  it('shows a pending job with every key, nulls where nothing applies', () => {
    expect(toJobStatus(base, 1000, links)).toEqual({
      job_id: 'j1',
      status: 'pending',
      progress: { percentage: 0, phase: 'initializing', speed: null, eta: null },
      download_url: null,
      expire_at: null,
      time_remaining: null,
      error: null,
      error_category: null,
    });
  });

  it('shows a completed job with its link, expiry and whole seconds remaining', () => {
    const job: Job = { ...base, status: 'completed', token: 'T'.repeat(43), expireAt: 600_000 };
    const status = toJobStatus(job, 1_500, { publicBaseUrl: 'https://dl.example' });
    expect(status.download_url).toBe(`https://dl.example/api/v1/downloads/file/${'T'.repeat(43)}`);
    expect(status.expire_at).toBe('1970-01-01T00:10:00.000Z');
    expect(status.time_remaining).toBe(599);
  });

  it('keeps a completed job completed after expiry, with 0 seconds remaining', () => {
    const job: Job = { ...base, status: 'completed', token: 'T'.repeat(43), expireAt: 600_000 };
    expect(toJobStatus(job, 700_000, links)).toMatchObject({ status: 'completed', time_remaining: 0 });
  });

  it('shows a failure as "<Title>: <message>" with its category', () => {
    const job: Job = { ...base, status: 'failed', errorCategory: 'geo_blocked' };
    expect(toJobStatus(job, 0, links)).toMatchObject({
      error: 'Content Not Available in Your Region: This video is not available for download in your current location due to geographic restrictions.',
      error_category: 'geo_blocked',
    });
  });
});

describe('timeRemaining', () => {
  it.each([
    [10_000, 0, 10],
    [10_000, 9_999, 1],
    [10_000, 9_000.5, 1],
    [10_000, 10_000, 0],
    [10_000, 20_000, 0],
  ])('expireAt %i at %i is %i s', (expireAt, now, expected) => {
    expect(timeRemaining(expireAt, now)).toBe(expected);
  });
});

describe('stateEvent', () => {
  it('replays the matching event for each status', () => {
    expect(stateEvent(base, links)?.name).toBe('job_progress');
    expect(stateEvent({ ...base, status: 'processing' }, links)?.name).toBe('job_progress');
    expect(stateEvent({ ...base, status: 'completed', token: 't', expireAt: 1 }, links)).toEqual({
      name: 'job_completed',
      payload: { job_id: 'j1', status: 'completed', download_url: '/api/v1/downloads/file/t', expire_at: '1970-01-01T00:00:00.001Z' },
    });
    expect(stateEvent({ ...base, status: 'failed', errorCategory: 'download_failed' }, links)?.payload).toMatchObject({
      status: 'failed',
      error_category: 'download_failed',
    });
  });
});
