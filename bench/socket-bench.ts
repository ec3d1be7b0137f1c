/**
 * Socket.IO fan-out: many clients subscribed to one job must all receive every progress event.
 * The job is held pending behind a blocker (one worker) until every client has subscribed, so all
 * of them can see the whole sequence. A delivery's latency is its arrival minus the first arrival
 * of the same event at any client: on loopback that first arrival is within a fraction of a
 * millisecond of the emit, and what remains is the cost of fanning out. The baseline is a bare
 * Socket.IO server broadcasting the same number of events to a room of the same clients.
 */
import { io, type Socket } from 'socket.io-client';
import { startMediaServer } from '../test/media/media-server.js';
import { expectStatus, requestJson } from './bench-client.js';
import type { BenchContext } from './bench-context.js';
import { startBareServer, startService, type Mode } from './bench-service.js';
import { median, metric, quantile, round, spreadOf, type Metrics } from './bench-stats.js';

const P99_TARGET_MS = 100;
const CONNECT_BATCH = 50;
const FANOUT_TIMEOUT_MS = 30_000;
const BLOCKER_POLL_MS = 50;
/** ~1 MB at 10 KB/s: the blocker runs ~100 s, far longer than connecting the clients takes. */
const BLOCKER_BYTES_PER_SECOND = 10 * 1024;

interface Arrival {
  key: string;
  at: number;
}

interface Fleet {
  sockets: Socket[];
  arrivals: Arrival[][];
  /** Resolves when every client has received `job_completed` (or `expected` events). */
  done(expected?: number): Promise<void>;
  close(): void;
}

function now(): number {
  return performance.now();
}

async function connectFleet(url: string, count: number, jobId: string): Promise<Fleet> {
  const sockets: Socket[] = [];
  const arrivals: Arrival[][] = [];
  const finished = new Set<number>();
  let expected = Number.POSITIVE_INFINITY;
  let wake: (() => void) | null = null;
  const check = () => {
    if (finished.size === count || arrivals.every((a) => a.length >= expected)) wake?.();
  };
  try {
    for (let start = 0; start < count; start += CONNECT_BATCH) {
      await Promise.all(
        Array.from({ length: Math.min(CONNECT_BATCH, count - start) }, async (_, j) => {
          const index = start + j;
          const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
          sockets.push(socket);
          const mine: Arrival[] = [];
          arrivals[index] = mine;
          await new Promise<void>((resolve, reject) => {
            socket.once('connect_error', reject);
            socket.once('subscribed', () => resolve());
            socket.once('connect', () => socket.emit('subscribe_job', { job_id: jobId }));
          });
          socket.on('job_progress', (e: { progress: { percentage: number; phase: string } }) => {
            mine.push({ key: `${e.progress.phase}:${e.progress.percentage}`, at: now() });
            check();
          });
          socket.on('job_completed', () => {
            mine.push({ key: 'completed', at: now() });
            finished.add(index);
            check();
          });
        }),
      );
    }
  } catch (err) {
    for (const s of sockets) s.close();
    throw err;
  }
  return {
    sockets,
    arrivals,
    done(n) {
      if (n !== undefined) expected = n;
      return new Promise<void>((resolve) => {
        // A client that never gets everything shows up as incomplete in the result, not as a hang.
        const timer = setTimeout(resolve, FANOUT_TIMEOUT_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        check();
      });
    },
    close: () => sockets.forEach((s) => s.close()),
  };
}

interface FanoutResult {
  /** Every delivery's latency, ms. */
  latencies: number[];
  /** p99 per event. */
  perEvent: number[];
  events: number;
  /** Clients that received exactly the full sequence. */
  complete: number;
}

/** Only arrivals after `since` count: the replay sent on subscribe is not a broadcast. */
function analyse(arrivals: Arrival[][], since: number): FanoutResult {
  const lists = arrivals.map((a) => a.filter((x) => x.at >= since));
  const reference = lists.reduce((longest, l) => (l.length > longest.length ? l : longest), [] as Arrival[]);
  const refKeys = reference.map((a) => a.key).join(',');
  const complete = lists.filter((l) => l.map((a) => a.key).join(',') === refKeys).length;
  const latencies: number[] = [];
  const perEvent: number[] = [];
  for (let k = 0; k < reference.length; k++) {
    const times = lists.map((l) => l[k]?.at).filter((t): t is number => t !== undefined);
    const first = Math.min(...times);
    const lat = times.map((t) => t - first);
    latencies.push(...lat);
    perEvent.push(quantile(lat, 0.99));
  }
  return { latencies, perEvent, events: reference.length, complete };
}

async function oursFanout(ctx: BenchContext, mode: Mode, clients: number): Promise<FanoutResult> {
  const svc = await startService({ mode, redisUrl: ctx.redisUrl, env: { WORKER_CONCURRENCY: '1' } });
  // The blocker comes from its own, far slower server, so it outlasts connecting every client.
  const blockerMedia = await startMediaServer({ slowBytesPerSecond: BLOCKER_BYTES_PER_SECOND });
  let fleet: Fleet | null = null;
  try {
    const post = async (url: string) =>
      (await expectStatus(
        await requestJson('POST', `${svc.url}/api/v1/downloads/`, { url, format_id: 'mp4' }),
        202,
        'POST /downloads/',
      )).body.job_id as string;
    const blocker = await post(`${blockerMedia.baseUrl}/slow/video.mp4`);
    // The one worker must hold the blocker before the target is queued behind it.
    for (;;) {
      const res = await requestJson('GET', `${svc.url}/api/v1/jobs/${blocker}`);
      if (res.body?.status === 'processing') break;
      if (res.body?.status !== 'pending') throw new Error(`blocker job is ${res.body?.status}`);
      await new Promise((r) => setTimeout(r, BLOCKER_POLL_MS));
    }
    const target = await post(`${ctx.media.baseUrl}/slow/video.mp4`);
    fleet = await connectFleet(svc.url, clients, target);
    const state = await requestJson('GET', `${svc.url}/api/v1/jobs/${target}`);
    if (state.body?.status !== 'pending') throw new Error(`the target job started early (${state.body?.status})`);
    const since = now();
    await requestJson('DELETE', `${svc.url}/api/v1/jobs/${blocker}`);
    await fleet.done();
    return analyse(fleet.arrivals, since);
  } finally {
    fleet?.close();
    await svc.stop();
    await blockerMedia.close();
  }
}

async function bareFanout(clients: number, events: number): Promise<FanoutResult> {
  const bare = await startBareServer('socketio');
  let fleet: Fleet | null = null;
  try {
    fleet = await connectFleet(bare.url, clients, 'bench-job');
    const since = now();
    await requestJson('POST', `${bare.url}/emit?count=${events}&interval=250`);
    await fleet.done(events);
    return analyse(fleet.arrivals, since);
  } finally {
    fleet?.close();
    await bare.stop();
  }
}

export async function benchFanout(ctx: BenchContext): Promise<Metrics> {
  const metrics: Metrics = {};
  const clients = ctx.quick ? 200 : 1000;
  for (const mode of ctx.modes) {
    ctx.log(`socket fan-out (${mode}): ${clients} clients`);
    const ours = await oursFanout(ctx, mode, clients);
    const base = await bareFanout(clients, Math.max(ours.events, 10));
    const p99 = quantile(ours.latencies, 0.99);
    metrics[`socket_fanout.${mode}.p99`] = metric({
      value: p99,
      baseline: quantile(base.latencies, 0.99),
      unit: `ms (${clients} clients, ${ours.events} events)`,
      target: `all clients get every event, p99 < ${P99_TARGET_MS} ms`,
      pass: ours.complete === clients && ours.events >= 10 && p99 < P99_TARGET_MS,
      spread: `${ours.complete}/${clients} complete; per-event p99 median ${round(median(ours.perEvent), 1)}, ${spreadOf(ours.perEvent)}`,
    });
  }
  return metrics;
}
