/**
 * EventBus across processes (distributed mode, SPEC §1, §4). `publish` goes through the Socket.IO
 * Redis emitter, so every api process whose server uses `createSocketRedisAdapter` (same key)
 * delivers the event to its sockets in room `<job_id>`. The gateway of such a process must therefore
 * not forward `subscribe` events to Socket.IO itself (`events: null`), or sockets would get them
 * twice. `subscribe` is a parallel plain pub/sub channel for in-process listeners (metrics, tests).
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { Emitter } from '@socket.io/redis-emitter';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { closeRedis } from '../redis/redis-connection.js';
import type { EventBus, JobEvent } from './event-bus.js';

export interface RedisEventBusDeps {
  /** A request-path connection for publishing; `subscribe` opens its own duplicate. */
  redis: Redis;
  prefix: string;
  logger?: Logger;
}

const REPORT_EVERY_MS = 10_000;

/** The Socket.IO adapter/emitter channel key: both sides must agree on it. */
export function socketIoKey(prefix: string): string {
  return `${prefix}socket.io`;
}

/**
 * The Socket.IO adapter for a gateway in distributed mode. `subClient` must be a connection of its
 * own (it enters subscriber mode), e.g. `createRedis(url, { role: 'socket-sub', forBullmq: true })`.
 */
export function createSocketRedisAdapter(pubClient: Redis, subClient: Redis, prefix: string): ReturnType<typeof createAdapter> {
  return createAdapter(pubClient, subClient, { key: socketIoKey(prefix) });
}

export type RedisEventBus = EventBus & {
  /**
   * Resolves once this process listens on the events channel, so `subscribe` handlers get every
   * event published after it. `subscribe` starts listening too, without waiting.
   */
  ready(): Promise<void>;
};

/** The distributed EventBus; `publish` never throws, a Redis failure only drops (and logs) events. */
export function createRedisEventBus(deps: RedisEventBusDeps): RedisEventBus {
  const { redis, prefix, logger } = deps;
  const channel = `${prefix}events`;
  const handlers = new Set<(event: JobEvent) => void>();
  let subscriber: Redis | null = null;
  let subscribed: Promise<unknown> | null = null;

  // Progress is published several times a second per job; during an outage one line per
  // REPORT_EVERY_MS says enough.
  let lastReport = 0;
  let dropped = 0;
  const report = (err: unknown, event: JobEvent) => {
    dropped += 1;
    const now = Date.now();
    if (now - lastReport < REPORT_EVERY_MS) return;
    lastReport = now;
    logger?.warn({ err, event: event.name, jobId: event.payload.job_id, dropped }, 'could not publish job events');
    dropped = 0;
  };

  // The emitter ignores the promise `publish` returns; a down Redis would make it an unhandled
  // rejection, so it gets a client whose publish always settles.
  let current: JobEvent | null = null;
  const emitter = new Emitter(
    {
      publish: (ch: string, msg: unknown) => {
        const event = current;
        return redis.publish(ch, msg as string | Buffer).catch((err: unknown) => event && report(err, event));
      },
    },
    { key: socketIoKey(prefix) },
  );

  function deliver(event: JobEvent): void {
    for (const handler of [...handlers]) {
      try {
        handler(event);
      } catch (err) {
        logger?.error({ err, event: event.name }, 'event subscriber threw');
      }
    }
  }

  function ensureSubscriber(): Promise<unknown> {
    if (subscribed) return subscribed;
    // Subscriber mode waits for Redis and resubscribes by itself after an outage.
    const sub = redis.duplicate({ commandTimeout: undefined, maxRetriesPerRequest: null, connectionName: 'ultra-dl:events-sub' });
    sub.on('error', (err: Error) => logger?.debug({ err: { message: err.message } }, 'event subscriber connection error'));
    sub.on('message', (_ch: string, message: string) => {
      let event: JobEvent;
      try {
        event = JSON.parse(message) as JobEvent;
      } catch {
        return;
      }
      deliver(event);
    });
    subscriber = sub;
    subscribed = sub.subscribe(channel);
    subscribed.catch((err: unknown) => logger?.warn({ err }, 'could not subscribe to job events'));
    return subscribed;
  }

  return {
    publish(event) {
      current = event;
      try {
        emitter.to(event.payload.job_id).emit(event.name, event.payload);
      } finally {
        current = null;
      }
      redis.publish(channel, JSON.stringify(event)).catch((err: unknown) => report(err, event));
    },

    async ready() {
      await ensureSubscriber();
    },

    subscribe(handler) {
      void ensureSubscriber().catch(() => undefined);
      const entry = (event: JobEvent): void => handler(event);
      handlers.add(entry);
      return () => {
        handlers.delete(entry);
      };
    },

    async close() {
      handlers.clear();
      const sub = subscriber;
      subscriber = null;
      subscribed = null;
      if (sub) await closeRedis(sub);
    },
  };
}
