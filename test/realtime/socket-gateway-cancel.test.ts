import { afterEach, describe, expect, it } from 'vitest';
import { cancelledEvent } from '../../src/downloads/job-view.js';
import type { JobEvent } from '../../src/events/event-bus.js';
import { progressEvent, startHarness, type Harness } from './socket-test-harness.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

describe('socket gateway: cancel_job', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stop();
  });

  it('sends job_cancelled once to a canceller that is not subscribed, and once to the room', async () => {
    h = await startHarness();
    h.jobs.set('job-c', progressEvent('job-c', 20));
    const watcher = await h.client();
    watcher.socket.emit('subscribe_job', { job_id: 'job-c' });
    await watcher.next('job_progress');
    const canceller = await h.client();

    canceller.socket.emit('cancel_job', { job_id: 'job-c' });
    const payload = await canceller.next('job_cancelled');
    expect(payload).toEqual(cancelledEvent('job-c').payload);
    expect(payload).toMatchObject({ job_id: 'job-c', status: 'cancelled' });
    await Promise.all([canceller.barrier(), watcher.barrier()]);
    expect(canceller.of('job_cancelled')).toHaveLength(1);
    expect(watcher.of('job_cancelled')).toEqual([cancelledEvent('job-c').payload]);
    expect(h.jobs.has('job-c')).toBe(false);
  });

  it('sends a subscribed canceller the room payload only once', async () => {
    h = await startHarness();
    h.jobs.set('job-s', progressEvent('job-s', 20));
    const c = await h.client();
    c.socket.emit('subscribe_job', { job_id: 'job-s' });
    await c.next('job_progress');
    c.socket.emit('cancel_job', JSON.stringify({ job_id: 'job-s' }));
    await c.next('job_cancelled');
    await c.barrier();
    expect(c.of('job_cancelled')).toEqual([cancelledEvent('job-s').payload]);
  });

  it('still tells a subscribed canceller when the cancel publishes nothing in this process', async () => {
    // As when the room copy comes later through Redis, or a finished job is deleted.
    h = await startHarness({ cancelJob: async () => true });
    h.jobs.set('job-q', progressEvent('job-q', 20));
    const c = await h.client();
    c.socket.emit('subscribe_job', { job_id: 'job-q' });
    await c.next('job_progress');
    c.socket.emit('cancel_job', { job_id: 'job-q' });
    expect(await c.next('job_cancelled')).toEqual(cancelledEvent('job-q').payload);
  });

  it('answers an unknown job with error Job not found', async () => {
    h = await startHarness();
    const c = await h.client();
    c.socket.emit('cancel_job', { job_id: 'job-none' });
    expect(await c.next('error')).toEqual({ message: 'Job not found', job_id: 'job-none' });
    await c.barrier();
    expect(c.of('job_cancelled')).toEqual([]);
  });

  it('answers a failing cancel with an error and keeps the connection', async () => {
    h = await startHarness({
      cancelJob: async () => {
        throw new Error('queue unreachable');
      },
    });
    const c = await h.client();
    c.socket.emit('cancel_job', { job_id: 'job-err' });
    expect(await c.next('error')).toMatchObject({ job_id: 'job-err', message: expect.any(String) });
    await c.barrier();
    expect(c.socket.connected).toBe(true);
  });
});

describe('socket gateway: replay races', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stop();
  });

  it('drops a replay overtaken by a live event, so the client never steps back', async () => {
    const read = deferred<JobEvent | null>();
    h = await startHarness({ replay: () => read.promise });
    const c = await h.client();
    c.socket.emit('subscribe_job', { job_id: 'job-r' });
    await c.next('subscribed');
    const done: JobEvent = {
      name: 'job_completed',
      payload: { job_id: 'job-r', status: 'completed', download_url: '/api/v1/downloads/file/t', expire_at: '2026-12-04T12:10:00.000Z' },
    };
    h.bus.publish(done);
    await c.next('job_completed');
    read.resolve(progressEvent('job-r', 90)); // read before the completion was stored
    await c.barrier();
    expect(c.received.map((r) => r.name)).toEqual(['connected', 'subscribed', 'job_completed', 'pong']);
  });

  it('still replays when only another job moved meanwhile', async () => {
    const read = deferred<JobEvent | null>();
    h = await startHarness({
      replay: (id) => (id === 'job-r2' ? read.promise : Promise.resolve(progressEvent(id, 0))),
    });
    const c = await h.client();
    c.socket.emit('subscribe_job', { job_id: 'job-other' });
    c.socket.emit('subscribe_job', { job_id: 'job-r2' });
    await c.next('subscribed', (p) => (p as { job_id: string }).job_id === 'job-r2');
    h.bus.publish(progressEvent('job-other', 3));
    await c.next('job_progress', (p) => (p as { progress: { percentage: number } }).progress.percentage === 3);
    read.resolve(progressEvent('job-r2', 40));
    await c.next('job_progress', (p) => (p as { job_id: string }).job_id === 'job-r2');
  });

  it('answers a failing replay with an error after subscribed', async () => {
    h = await startHarness({
      replay: async () => {
        throw new Error('store unreachable');
      },
    });
    const c = await h.client();
    c.socket.emit('subscribe_job', { job_id: 'job-f' });
    expect(await c.next('error')).toMatchObject({ job_id: 'job-f', message: expect.any(String) });
    expect(c.received.map((r) => r.name)).toEqual(['connected', 'subscribed', 'error']);
  });
});
