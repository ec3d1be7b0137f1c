/**
 * The client side of the benchmarks: JSON requests over a keep-alive agent (so a latency sample is
 * the server's time plus one loopback round trip, not a TCP handshake) and job completion followed
 * over Socket.IO (no polling interval in the figure).
 */
import http from 'node:http';
import { io, type Socket } from 'socket.io-client';

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

export interface JsonResponse {
  status: number;
  body: any;
}

export function requestJson(method: string, url: string, payload?: unknown): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const data = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload));
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = null;
          try {
            body = text ? JSON.parse(text) : null;
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

export async function expectStatus(res: JsonResponse, status: number, what: string): Promise<JsonResponse> {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

export interface JobWatcher {
  /** POSTs a job and resolves with its id and the terminal event once it completes (or throws). */
  run(url: string, formatId: string): Promise<{ jobId: string; downloadUrl: string }>;
  close(): void;
}

interface Pending {
  resolve(v: { jobId: string; downloadUrl: string }): void;
  reject(e: Error): void;
}

/** One Socket.IO connection that follows every job it starts. */
export async function createJobWatcher(baseUrl: string): Promise<JobWatcher> {
  const socket: Socket = io(baseUrl, { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connected', () => resolve());
    socket.once('connect_error', reject);
  });
  const pending = new Map<string, Pending>();
  socket.on('job_completed', (e: { job_id: string; download_url: string }) => {
    pending.get(e.job_id)?.resolve({ jobId: e.job_id, downloadUrl: e.download_url });
    pending.delete(e.job_id);
  });
  socket.on('job_failed', (e: { job_id: string; error: string }) => {
    pending.get(e.job_id)?.reject(new Error(`job ${e.job_id} failed: ${e.error}`));
    pending.delete(e.job_id);
  });
  return {
    async run(url, formatId) {
      const res = await requestJson('POST', `${baseUrl}/api/v1/downloads/`, { url, format_id: formatId });
      await expectStatus(res, 202, 'POST /downloads/');
      const jobId = res.body.job_id as string;
      const done = new Promise<{ jobId: string; downloadUrl: string }>((resolve, reject) => {
        pending.set(jobId, { resolve, reject });
      });
      // The current state follows `subscribed`, so a job finished before this still resolves.
      socket.emit('subscribe_job', { job_id: jobId });
      const result = await done;
      socket.emit('unsubscribe_job', { job_id: jobId });
      return result;
    },
    close: () => void socket.close(),
  };
}
