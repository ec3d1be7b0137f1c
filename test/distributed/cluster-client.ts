/**
 * What a client of a distributed cluster does, over real HTTP and Socket.IO: create jobs, poll
 * them, and record every event a socket receives (SPEC §2, §4).
 */
import { io as connect, type Socket } from 'socket.io-client';

export interface JobStatus {
  job_id: string;
  status: string;
  progress: { percentage: number; phase: string; speed: string | null; eta: number | null };
  download_url: string | null;
  error: string | null;
  error_category: string | null;
}

export interface Received {
  name: string;
  payload: { job_id?: string; [key: string]: unknown };
}

export async function createJob(apiUrl: string, url: string, formatId: string): Promise<string> {
  const res = await fetch(`${apiUrl}/api/v1/downloads/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url, format_id: formatId }),
  });
  const body = (await res.json()) as { job_id?: string };
  if (res.status !== 202 || !body.job_id) throw new Error(`POST /downloads/ gave ${res.status}: ${JSON.stringify(body)}`);
  return body.job_id;
}

/** The job's status, or null on 404. */
export async function getJob(apiUrl: string, jobId: string): Promise<JobStatus | null> {
  const res = await fetch(`${apiUrl}/api/v1/jobs/${jobId}`);
  if (res.status === 404) return null;
  if (res.status !== 200) throw new Error(`GET /jobs/${jobId} gave ${res.status}: ${await res.text()}`);
  return (await res.json()) as JobStatus;
}

const FINAL = new Set(['completed', 'failed']);

/** Polls until the job is completed or failed. */
export async function finalStatus(apiUrl: string, jobId: string, timeoutMs: number): Promise<JobStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(apiUrl, jobId);
    if (job && FINAL.has(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} not finished within ${timeoutMs} ms: ${JSON.stringify(job)}`);
    await sleep(200);
  }
}

export interface RecordingSocket {
  socket: Socket;
  received: Received[];
  /** Events named `name` for `jobId`. */
  of(name: string, jobId: string): Received['payload'][];
  /** Resolves with the first `name` event for `jobId`, received or to come. */
  next(name: string, jobId: string, timeoutMs?: number): Promise<Received['payload']>;
  close(): void;
}

/** A websocket-only client (no polling, so no sticky session is needed) that records everything. */
export async function openSocket(apiUrl: string): Promise<RecordingSocket> {
  const socket = connect(apiUrl, { transports: ['websocket'], reconnection: false, forceNew: true });
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  socket.onAny((name: string, payload: Received['payload']) => {
    received.push({ name, payload });
    for (const wake of [...waiters]) wake();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connected', () => resolve());
    socket.once('connect_error', reject);
  });
  const of = (name: string, jobId: string) =>
    received.filter((r) => r.name === name && r.payload?.job_id === jobId).map((r) => r.payload);
  return {
    socket,
    received,
    of,
    next(name, jobId, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = of(name, jobId)[0];
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${name} for ${jobId} within ${timeoutMs} ms; got ${JSON.stringify(received.map((r) => r.name))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => void socket.close(),
  };
}

/** Subscribes and waits for the `subscribed` reply, so later room broadcasts reach the socket. */
export async function subscribe(client: RecordingSocket, jobId: string): Promise<void> {
  const reply = client.next('subscribed', jobId, 5_000);
  client.socket.emit('subscribe_job', { job_id: jobId });
  await reply;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it is truthy; returns how long that took. */
export async function until(check: () => unknown, timeoutMs: number, stepMs = 50): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}
