/**
 * Socket.IO on a whole embedded runtime (SPEC §4): live progress of a real download, completion,
 * replay for late subscribers, and cancel over the socket.
 */
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_FORMAT_IDS, startMediaServer, type MediaServer } from '../helpers/media.js';
import { processesMatching } from '../helpers/processes.js';
import { startTestApp, waitFor, type TestApp } from '../helpers/test-app.js';

let media: MediaServer;
let t: TestApp;
const sockets: Socket[] = [];

beforeAll(async () => {
  media = await startMediaServer();
  t = await startTestApp();
});

afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await t?.close();
  await media?.close();
});

async function connect(): Promise<Socket> {
  const socket = io(t.url, { transports: ['websocket'], reconnection: false });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connected', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

async function create(route: string, formatId: string): Promise<string> {
  const res = await t.runtime.app!.inject({
    method: 'POST',
    url: '/api/v1/downloads/',
    payload: { url: `${media.baseUrl}${route}`, format_id: formatId },
  });
  return (res.json() as { job_id: string }).job_id;
}

interface Received {
  name: string;
  at: number;
  payload: Record<string, any>;
}

function record(socket: Socket): Received[] {
  const events: Received[] = [];
  socket.onAny((name: string, payload: Record<string, any>) => events.push({ name, at: Date.now(), payload }));
  return events;
}

describe('socket flow', () => {
  it('streams throttled, monotonic progress and then job_completed', async () => {
    const socket = await connect();
    const events = record(socket);
    const jobId = await create('/slow/video.mp4', MEDIA_FORMAT_IDS.progressive);
    socket.emit('subscribe_job', { job_id: jobId });
    await waitFor(() => events.some((e) => e.name === 'job_completed'), 40_000);

    expect(events[0]).toMatchObject({ name: 'subscribed', payload: { job_id: jobId } });
    const progress = events.filter((e) => e.name === 'job_progress');
    const percentages = progress.map((e) => e.payload.progress.percentage as number);
    expect(percentages).toEqual([...percentages].sort((a, b) => a - b));
    expect(progress.length).toBeGreaterThan(5);
    // About 4 a second while downloading: well under one per 150 ms on average, phase changes aside.
    const downloading = progress.filter((e) => e.payload.progress.phase === 'downloading');
    const seconds = (downloading.at(-1)!.at - downloading[0]!.at) / 1000;
    expect(downloading.length / Math.max(seconds, 1)).toBeLessThan(6.5);

    const done = events.find((e) => e.name === 'job_completed')!;
    expect(done.payload).toEqual({
      job_id: jobId,
      status: 'completed',
      download_url: expect.stringMatching(/^\/api\/v1\/downloads\/file\/[A-Za-z0-9_-]{43}$/),
      expire_at: expect.any(String),
    });

    // A late subscriber gets the final state right after `subscribed`.
    const late = await connect();
    const lateEvents = record(late);
    late.emit('subscribe_job', { job_id: jobId });
    await waitFor(() => lateEvents.length >= 2, 5_000);
    expect(lateEvents.map((e) => e.name)).toEqual(['subscribed', 'job_completed']);
    expect(lateEvents[1]!.payload).toEqual(done.payload);
  });

  it('cancels over the socket: job_cancelled to the canceller and the room, processes gone', async () => {
    const canceller = await connect();
    const watcher = await connect();
    const mine = record(canceller);
    const theirs = record(watcher);
    const jobId = await create('/slow/video.mp4', MEDIA_FORMAT_IDS.progressive);
    watcher.emit('subscribe_job', { job_id: jobId });
    await waitFor(() => theirs.some((e) => e.name === 'job_progress' && e.payload.progress.phase === 'downloading'), 20_000);

    canceller.emit('cancel_job', { job_id: jobId });
    await waitFor(() => mine.some((e) => e.name === 'job_cancelled'), 5_000);
    await waitFor(() => theirs.some((e) => e.name === 'job_cancelled'), 5_000);
    expect(mine.find((e) => e.name === 'job_cancelled')!.payload).toEqual({
      job_id: jobId,
      status: 'cancelled',
      message: expect.any(String),
    });
    await waitFor(async () => (await processesMatching(jobId)).length === 0, 2_000);
    const status = await t.runtime.app!.inject({ method: 'GET', url: `/api/v1/jobs/${jobId}` });
    expect(status.statusCode).toBe(404);

    canceller.emit('cancel_job', { job_id: jobId });
    await waitFor(() => mine.some((e) => e.name === 'error'), 5_000);
  });
});
