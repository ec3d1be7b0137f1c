/**
 * Socket.IO fan-out: many clients subscribed to one job must all receive every progress event.
 * The job is held pending behind a blocker (one worker) until every client has subscribed, so all
 * of them can see the whole sequence. A delivery's latency is its arrival minus the first arrival
 * of the same event at any client: on loopback that first arrival is within a fraction of a
 * millisecond of the emit, and what remains is the cost of fanning out. The baseline is a bare
 * Socket.IO server broadcasting the same number of events to a room of the same clients.
 */
import WebSocket from 'ws';
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
  /** The raw packet: equal packets are the same event. */
  key: string;
  at: number;
}

interface Fleet {
  sockets: WebSocket[];
  arrivals: Arrival[][];
  /** Resolves when every client has received `job_completed` (or `expected` events). */
  done(expected?: number): Promise<void>;
  close(): void;
}

function now(): number {
  return performance.now();
}

/**
 * One subscriber speaking the Socket.IO wire protocol (Engine.IO v4 over a WebSocket) directly: a
 * full socket.io-client decodes every packet on this one thread, and with a thousand of them that
 * decoding, not the server, would be what the figure measures. Arrivals are stamped on receipt and
 * decoded afterwards.
 */
function openSubscriber(url: string, jobId: string, mine: Arrival[], onDone: () => void): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
  return new Promise<WebSocket>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data) => {
      const at = now();
      const text = data.toString();
      if (text === '2') return ws.send('3'); // Engine.IO ping → pong
      if (text.startsWith('0')) return ws.send('40'); // open → connect to the default namespace
      if (text.startsWith('40')) return ws.send(`42${JSON.stringify(['subscribe_job', { job_id: jobId }])}`);
      if (!text.startsWith('42')) return;
      if (text.startsWith('42["subscribed"')) return resolve(ws);
      if (text.startsWith('42["job_progress"') || text.startsWith('42["job_completed"')) {
        mine.push({ key: text, at });
        if (text.startsWith('42["job_completed"')) onDone();
      }
    });
  });
}

async function connectFleet(url: string, count: number, jobId: string): Promise<Fleet> {
  const sockets: WebSocket[] = [];
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
          const mine: Arrival[] = [];
          arrivals[index] = mine;
          const ws = await openSubscriber(url, jobId, mine, () => {
            finished.add(index);
            check();
          });
          sockets.push(ws);
        }),
      );
    }
  } catch (err) {
    for (const s of sockets) s.terminate();
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
        const poll = setInterval(check, 100);
        wake = () => {
          clearTimeout(timer);
          clearInterval(poll);
          resolve();
        };
        check();
      });
    },
    close: () => sockets.forEach((s) => s.terminate()),
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
  const clients = ctx.quick ? 100 : 1000;
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
