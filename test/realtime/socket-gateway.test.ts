import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobEvent } from '../../src/events/event-bus.js';
import { progressEvent, startHarness, type Harness } from './socket-test-harness.js';

const completed: JobEvent = {
  name: 'job_completed',
  payload: {
    job_id: 'job-done',
    status: 'completed',
    download_url: '/api/v1/downloads/file/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd',
    expire_at: '2026-12-04T12:10:00.000Z',
  },
};
const failed: JobEvent = {
  name: 'job_failed',
  payload: {
    job_id: 'job-failed',
    status: 'failed',
    error: 'Network Error: Unable to connect to YouTube or download the video.',
    error_category: 'network_error',
  },
};

describe('socket gateway: events of SPEC §4', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  it.each([['websocket'], ['polling']])('greets a %s client with connected and its client id', async (transport) => {
    const c = h.open({ transports: [transport] });
    const payload = await c.next('connected');
    expect(payload).toEqual({ message: 'Connected to ultra-dl', client_id: c.socket.id });
  });

  it('answers subscribe with subscribed, then replays a processing job as job_progress', async () => {
    h.jobs.set('job-running', progressEvent('job-running', 37));
    const c = await h.client();
    c.socket.emit('subscribe_job', { job_id: 'job-running' });
    await c.next('job_progress');
    expect(c.received.slice(1)).toEqual([
      { name: 'subscribed', payload: { job_id: 'job-running', message: 'Subscribed to job job-running' } },
      { name: 'job_progress', payload: progressEvent('job-running', 37).payload },
    ]);
  });

  it.each([
    ['completed', completed],
    ['failed', failed],
  ])('replays a %s job that finished before the subscribe', async (_, state) => {
    h.jobs.set(state.payload.job_id, state);
    const c = await h.client();
    c.socket.emit('subscribe_job', { job_id: state.payload.job_id });
    const replayed = await c.next(state.name);
    expect(replayed).toEqual(state.payload);
    expect(c.received.map((r) => r.name)).toEqual(['connected', 'subscribed', state.name]);
  });

  it('accepts the payload as a JSON string too', async () => {
    h.jobs.set('job-str', progressEvent('job-str', 5));
    const c = await h.client();
    c.socket.emit('subscribe_job', JSON.stringify({ job_id: 'job-str' }));
    expect(await c.next('job_progress')).toEqual(progressEvent('job-str', 5).payload);
  });

  it('answers an unknown job with subscribed, then error Job not found', async () => {
    const c = await h.client();
    c.socket.emit('subscribe_job', { job_id: 'job-unknown' });
    const error = await c.next('error');
    expect(error).toEqual({ job_id: 'job-unknown', message: 'Job not found' });
    expect(c.received.map((r) => r.name)).toEqual(['connected', 'subscribed', 'error']);
    expect(h.gateway.io.of('/').sockets.get(c.socket.id!)?.rooms.has('job-unknown')).toBe(false);
  });

  it.each([
    ['no payload', undefined],
    ['an empty object', {}],
    ['an empty id', { job_id: '' }],
    ['a number id', { job_id: 42 }],
    ['an id over 100 characters', { job_id: 'x'.repeat(101) }],
    ['an array', ['job-1']],
    ['null', null],
    ['malformed JSON', '{"job_id": '],
    ['a JSON string of a string', '"job-1"'],
  ])('answers %s with error Missing job_id on every job event', async (_, payload) => {
    const c = await h.client();
    for (const event of ['subscribe_job', 'unsubscribe_job', 'cancel_job']) c.socket.emit(event, payload);
    await c.barrier();
    expect(c.of('error')).toEqual([
      { message: 'Missing job_id' },
      { message: 'Missing job_id' },
      { message: 'Missing job_id' },
    ]);
    expect(c.socket.connected).toBe(true);
  });

  it('accepts an id of exactly 100 characters', async () => {
    const id = 'j'.repeat(100);
    h.jobs.set(id, progressEvent(id, 1));
    const c = await h.client();
    c.socket.emit('subscribe_job', { job_id: id });
    expect(await c.next('job_progress')).toEqual(progressEvent(id, 1).payload);
  });

  it('unsubscribes: unsubscribed, and no more events of that job', async () => {
    h.jobs.set('job-u', progressEvent('job-u', 1));
    const leaving = await h.client();
    const staying = await h.client();
    for (const c of [leaving, staying]) {
      c.socket.emit('subscribe_job', { job_id: 'job-u' });
      await c.next('job_progress');
    }
    leaving.socket.emit('unsubscribe_job', { job_id: 'job-u' });
    expect(await leaving.next('unsubscribed')).toEqual({ job_id: 'job-u', message: 'Unsubscribed from job job-u' });

    h.bus.publish(progressEvent('job-u', 60));
    await staying.next('job_progress', (p) => (p as { progress: { percentage: number } }).progress.percentage === 60);
    await leaving.barrier();
    expect(leaving.of('job_progress')).toHaveLength(1);
  });

  it('fans a published event out to the subscribers of that job only', async () => {
    for (const id of ['job-a', 'job-b']) h.jobs.set(id, progressEvent(id, 0));
    const [a1, a2, b, idle] = await Promise.all([h.client(), h.client(), h.client(), h.client()]);
    for (const [c, id] of [[a1, 'job-a'], [a2, 'job-a'], [b, 'job-b']] as const) {
      c.socket.emit('subscribe_job', { job_id: id });
      await c.next('job_progress');
    }

    h.bus.publish(progressEvent('job-a', 50));
    await Promise.all([a1, a2, b, idle].map((c) => c.barrier()));
    for (const c of [a1, a2]) expect(c.of('job_progress')).toEqual([progressEvent('job-a', 0).payload, progressEvent('job-a', 50).payload]);
    expect(b.of('job_progress')).toEqual([progressEvent('job-b', 0).payload]);
    expect(idle.of('job_progress')).toEqual([]);
  });

  it('emit() sends to the room even when no EventBus is given (adapter mode)', async () => {
    const adapterMode = await startHarness({ events: null });
    try {
      adapterMode.jobs.set('job-x', progressEvent('job-x', 0));
      const c = await adapterMode.client();
      c.socket.emit('subscribe_job', { job_id: 'job-x' });
      await c.next('job_progress');
      adapterMode.bus.publish(progressEvent('job-x', 10)); // not wired: must not arrive
      adapterMode.gateway.emit(progressEvent('job-x', 20));
      await c.next('job_progress', (p) => (p as { progress: { percentage: number } }).progress.percentage === 20);
      expect(c.of('job_progress')).toEqual([progressEvent('job-x', 0).payload, progressEvent('job-x', 20).payload]);
    } finally {
      await adapterMode.stop();
    }
  });

  it('answers ping with pong and a millisecond timestamp', async () => {
    const c = await h.client();
    const before = Date.now();
    c.socket.emit('ping');
    const pong = (await c.next('pong')) as { timestamp: unknown };
    expect(typeof pong.timestamp).toBe('number');
    expect(pong.timestamp).toBeGreaterThanOrEqual(before);
    expect(pong.timestamp).toBeLessThanOrEqual(Date.now());
  });
});
