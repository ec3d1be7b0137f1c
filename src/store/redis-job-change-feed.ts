/**
 * The changes of job records in Redis, for the cached job store (distributed mode): Redis's own
 * client-side caching support (`CLIENT TRACKING ... BCAST PREFIX <prefix>job:`), which reports
 * every write, deletion and expiry of a job key, whoever made it.
 *
 * Two connections: `tracker` holds the tracking registration, which redirects its reports to
 * `listener`, subscribed to `__redis__:invalidate`. Either one dropping means reports may be lost,
 * so the feed resets (the cache empties) and is not live until both are back and registered again.
 */
import type { Logger } from 'pino';
import { closeRedis, createRedis } from '../redis/redis-connection.js';
import type { JobChangeFeed } from './cached-job-store.js';
import { jobKeyPrefix } from './redis-job-store.js';

const INVALIDATE_CHANNEL = '__redis__:invalidate';

export interface RedisJobChangeFeed extends JobChangeFeed {
  close(): Promise<void>;
}

type Listener = Parameters<JobChangeFeed['subscribe']>[0];

export function createRedisJobChangeFeed(options: { url: string; prefix: string; logger: Logger }): RedisJobChangeFeed {
  const keyPrefix = jobKeyPrefix(options.prefix);
  const log = options.logger;
  const listeners: Listener[] = [];
  const listener = createRedis(options.url, {
    role: 'jobs-invalidate',
    logger: log,
    subscriber: true,
    manualResubscribe: true,
  });
  const tracker = createRedis(options.url, { role: 'jobs-tracking', logger: log, forBullmq: true });
  let live = false;
  let closed = false;
  /** The listener connection's client id, while it is subscribed. */
  let listenerId: number | null = null;
  /** Bumped by every drop, so a registration that raced one does not go live. */
  let generation = 0;

  function reset(): void {
    for (const l of listeners) l.onReset();
  }

  function dropped(): void {
    generation += 1;
    live = false;
    reset();
  }

  async function register(): Promise<void> {
    const started = generation;
    if (closed || listenerId === null || tracker.status !== 'ready') return;
    try {
      // Re-registering with another redirect needs tracking off first.
      await tracker.client('TRACKING', 'OFF');
      await tracker.client('TRACKING', 'ON', 'REDIRECT', String(listenerId), 'BCAST', 'PREFIX', keyPrefix);
    } catch (err) {
      // A Redis without tracking (before 6.0, or a proxy) leaves the cache off: reads go to Redis.
      if (started === generation) log.warn({ err: { message: (err as Error).message } }, 'job change tracking unavailable');
      return;
    }
    if (started !== generation || closed) return;
    // Reads that began before now may predate the registration: the reset keeps them out.
    reset();
    live = true;
  }

  async function listen(): Promise<void> {
    const started = generation;
    try {
      const id = Number(await listener.client('ID'));
      await listener.subscribe(INVALIDATE_CHANNEL);
      if (started !== generation || closed) return;
      listenerId = id;
    } catch (err) {
      log.warn({ err: { message: (err as Error).message } }, 'job change listener not subscribed');
      return;
    }
    await registerInTurn();
  }

  listener.on('messageBuffer', (channel: Buffer, message: Buffer | Buffer[] | null) => {
    if (channel.toString() !== INVALIDATE_CHANNEL) return;
    // A null report means the whole database was flushed.
    if (message === null) return reset();
    for (const key of Array.isArray(message) ? message : [message]) {
      const name = key.toString();
      if (!name.startsWith(keyPrefix)) continue;
      const id = name.slice(keyPrefix.length);
      for (const l of listeners) l.onChange(id);
    }
  });
  // One registration at a time: two interleaved OFF/ON pairs would refuse the second prefix.
  let registering = Promise.resolve();
  const registerInTurn = () => {
    registering = registering.then(register);
    return registering;
  };

  listener.on('ready', () => void listen());
  listener.on('close', () => {
    listenerId = null;
    dropped();
  });
  tracker.on('ready', () => void registerInTurn());
  tracker.on('close', dropped);

  return {
    get live() {
      return live;
    },
    subscribe(l) {
      listeners.push(l);
    },
    async close() {
      closed = true;
      dropped();
      await Promise.all([closeRedis(listener), closeRedis(tracker)]);
    },
  };
}
