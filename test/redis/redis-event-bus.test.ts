import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobEvent } from '../../src/events/event-bus.js';
import { createRedisEventBus, createSocketRedisAdapter } from '../../src/events/redis-event-bus.js';
import { closeRedis, createRedis } from '../../src/redis/redis-connection.js';
import { TEST_REDIS_URL, deleteKeys, silentLogger, startPrivateRedis, uniquePrefix } from './redis-test-env.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

const progress = (jobId: string, percentage: number): JobEvent => ({
  name: 'job_progress',
  payload: { job_id: jobId, progress: { percentage, phase: 'downloading', speed: null, eta: null } },
});

interface ApiProcess {
  url: string;
  close(): Promise<void>;
}

/** A Socket.IO server as an api process runs it in distributed mode; sockets join `?room=`. */
async function startApi(prefix: string): Promise<ApiProcess> {
  const pub = createRedis(TEST_REDIS_URL, { role: 'test-socket-pub', logger: silentLogger });
  const sub = createRedis(TEST_REDIS_URL, { role: 'test-socket-sub', logger: silentLogger, forBullmq: true });
  const http: HttpServer = createServer();
  const io = new Server(http, { adapter: createSocketRedisAdapter(pub, sub, prefix) });
  io.on('connection', (socket) => {
    void socket.join(String(socket.handshake.query.room));
    socket.emit('joined');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  // The adapter's subscriptions must be in place before events are published.
  await until(() => sub.status === 'ready');
  await sleep(100);
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    close: async () => {
      await io.close();
      await closeRedis(pub);
      await closeRedis(sub);
    },
  };
}

async function join(api: ApiProcess, room: string, sockets: ClientSocket[]) {
  const received: { name: string; payload: unknown }[] = [];
  const socket = connect(api.url, { query: { room }, transports: ['websocket'], forceNew: true });
  sockets.push(socket);
  socket.onAny((name: string, payload: unknown) => {
    if (name !== 'joined') received.push({ name, payload });
  });
  await new Promise<void>((resolve) => socket.once('joined', () => resolve()));
  return received;
}

describe('redis event bus through Socket.IO', () => {
  let prefix: string;
  let worker: Redis;
  const apis: ApiProcess[] = [];
  const sockets: ClientSocket[] = [];

  beforeEach(() => {
    prefix = uniquePrefix();
    worker = createRedis(TEST_REDIS_URL, { role: 'test-worker', logger: silentLogger });
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await Promise.all(apis.splice(0).map((a) => a.close()));
    await closeRedis(worker);
    await deleteKeys(TEST_REDIS_URL, prefix);
  });

  it("delivers a worker's events once to the room's sockets on every api process", async () => {
    apis.push(await startApi(prefix), await startApi(prefix));
    const [one, two] = apis as [ApiProcess, ApiProcess];
    const onOne = await join(one, 'job-a', sockets);
    const onTwo = await join(two, 'job-a', sockets);
    const otherRoom = await join(two, 'job-b', sockets);

    const bus = createRedisEventBus({ redis: worker, prefix, logger: silentLogger });
    const completed: JobEvent = {
      name: 'job_completed',
      payload: { job_id: 'job-a', status: 'completed', download_url: '/api/v1/downloads/file/t', expire_at: '2026-12-04T12:00:00.000Z' },
    };
    bus.publish(progress('job-a', 10));
    bus.publish(completed);
    await until(() => onOne.length >= 2 && onTwo.length >= 2);
    await sleep(150);
    const expected = [
      { name: 'job_progress', payload: progress('job-a', 10).payload },
      { name: 'job_completed', payload: completed.payload },
    ];
    expect(onOne).toEqual(expected);
    expect(onTwo).toEqual(expected);
    expect(otherRoom).toEqual([]);
    await bus.close();
  });

  it('does not reach the sockets of another deployment prefix', async () => {
    apis.push(await startApi(`${prefix}other:`));
    const foreign = await join(apis[0]!, 'job-a', sockets);
    const bus = createRedisEventBus({ redis: worker, prefix, logger: silentLogger });
    bus.publish(progress('job-a', 1));
    await sleep(300);
    expect(foreign).toEqual([]);
  });

  it('neither throws nor leaves an unhandled rejection when Redis is down', async () => {
    const server = await startPrivateRedis('secret');
    const redis = createRedis(server.url(), { role: 'test', logger: silentLogger });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const bus = createRedisEventBus({ redis, prefix, logger: silentLogger });
      await server.stop();
      expect(() => bus.publish(progress('job-a', 5))).not.toThrow();
      await sleep(2_000);
      expect(unhandled).toEqual([]);
      await bus.close();
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await closeRedis(redis);
      await server.destroy();
    }
  });
});
