/**
 * A real listening HTTP server with the gateway on it, and socket.io-client sockets that record
 * everything they receive. `replay` and `cancelJob` are plain functions over an in-memory job
 * table, publishing through a real local EventBus the way the download service does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { io as connect, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { cancelledEvent } from '../../src/downloads/job-view.js';
import type { EventBus, JobEvent } from '../../src/events/event-bus.js';
import { createLocalEventBus } from '../../src/events/local-event-bus.js';
import { createSocketGateway, type SocketGatewayDeps } from '../../src/realtime/socket-gateway.js';

export interface Received {
  name: string;
  payload: unknown;
}

export interface RecordingSocket {
  socket: Socket;
  received: Received[];
  of(name: string): unknown[];
  /** Resolves with the first `name` event (received or to come) matching `match`. */
  next(name: string, match?: (payload: unknown) => boolean, timeoutMs?: number): Promise<unknown>;
  /**
   * A ping/pong round trip: events the server sent this socket before the pong have arrived
   * once it resolves, since one connection keeps the server's order.
   */
  barrier(): Promise<void>;
}

export type HarnessOptions = Partial<Omit<SocketGatewayDeps, 'httpServer' | 'logger'>>;

export async function startHarness(options: HarnessOptions = {}) {
  const jobs = new Map<string, JobEvent>();
  const bus: EventBus = createLocalEventBus();
  const httpServer = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', url: req.url }));
  });
  const gateway = createSocketGateway({
    httpServer,
    events: bus,
    replay: async (jobId) => jobs.get(jobId) ?? null,
    cancelJob: async (jobId) => {
      if (!jobs.delete(jobId)) return false;
      bus.publish(cancelledEvent(jobId));
      return true;
    },
    corsOrigins: '*',
    apiKeys: [],
    logger: pino({ level: 'silent' }),
    ...options,
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  const sockets: Socket[] = [];

  function open(opts: Partial<ManagerOptions & SocketOptions> = {}): RecordingSocket {
    const socket = connect(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...opts });
    sockets.push(socket);
    const received: Received[] = [];
    const waiters = new Set<(r: Received) => void>();
    socket.onAny((name: string, payload: unknown) => {
      const r = { name, payload };
      received.push(r);
      for (const waiter of [...waiters]) waiter(r);
    });
    const next = (name: string, match: (p: unknown) => boolean = () => true, timeoutMs = 5_000) =>
      new Promise<unknown>((resolve, reject) => {
        const found = received.find((r) => r.name === name && match(r.payload));
        if (found) return resolve(found.payload);
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no ${name} event within ${timeoutMs} ms; got ${JSON.stringify(received)}`));
        }, timeoutMs);
        const waiter = (r: Received) => {
          if (r.name !== name || !match(r.payload)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(r.payload);
        };
        waiters.add(waiter);
      });
    return {
      socket,
      received,
      of: (name) => received.filter((r) => r.name === name).map((r) => r.payload),
      next,
      async barrier() {
        const before = received.filter((r) => r.name === 'pong').length;
        socket.emit('ping');
        await next('pong', () => received.filter((r) => r.name === 'pong').length > before);
      },
    };
  }

  /** Opens a socket and waits for the server's `connected`. */
  async function client(opts: Partial<ManagerOptions & SocketOptions> = {}): Promise<RecordingSocket> {
    const c = open(opts);
    await c.next('connected');
    return c;
  }

  async function stop(): Promise<void> {
    for (const socket of sockets) socket.disconnect();
    await gateway.close();
    httpServer.closeAllConnections();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    await bus.close();
  }

  return { url, jobs, bus, gateway, httpServer, open, client, stop };
}

export type Harness = Awaited<ReturnType<typeof startHarness>>;

export function progressEvent(jobId: string, percentage: number): JobEvent {
  return {
    name: 'job_progress',
    payload: { job_id: jobId, progress: { percentage, phase: 'downloading', speed: '1.5 MB/s', eta: 12 } },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
