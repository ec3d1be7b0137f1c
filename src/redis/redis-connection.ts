/**
 * The one place that opens Redis connections (SPEC §1, issue 3). Request-path connections fail fast
 * so a down Redis answers within 2 s; BullMQ and pub/sub connections wait for Redis to come back.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { redactUrl } from '../config.js';
import { rejectAfter, settlesWithin } from '../time-limits.js';

/** A request must get its answer or an error within 2 s (issue 3); leave room for the reply. */
export const REQUEST_COMMAND_TIMEOUT_MS = 1_500;
/** Reconnect quickly so a returning Redis is used within a second or two. */
const MAX_RECONNECT_DELAY_MS = 1_000;
/** ioredis reports every failed reconnect; one log line per this many ms is enough. */
const ERROR_LOG_INTERVAL_MS = 10_000;

export interface CreateRedisOptions {
  /** Names the connection in logs and in `CLIENT LIST` (e.g. `api`, `queue`, `events-sub`). */
  role: string;
  logger: Logger;
  /**
   * For long-lived connections that must wait for Redis rather than fail: BullMQ workers and
   * pub/sub subscribers. BullMQ requires `maxRetriesPerRequest: null` on them.
   */
  forBullmq?: boolean;
  /**
   * For a connection that only subscribes (implies `forBullmq`). It skips ioredis's ready check:
   * a SUBSCRIBE written during the handshake would make the check's INFO fail, and ioredis would
   * reconnect without the subscription.
   */
  subscriber?: boolean;
  /**
   * With `subscriber`: do not subscribe again by itself after a reconnect, because the owner must
   * run commands first (a subscribed RESP2 connection can run no others).
   */
  manualResubscribe?: boolean;
}

/**
 * Opens an ioredis connection from a `redis://[:password@]host[:port][/db]` URL (password and DB
 * index are taken from the URL by ioredis). Never logs the password.
 */
export function createRedis(url: string, options: CreateRedisOptions): Redis {
  const log = options.logger.child({ redis: redactUrl(url), role: options.role });
  const common = {
    connectionName: `ultra-dl:${options.role}`,
    connectTimeout: REQUEST_COMMAND_TIMEOUT_MS,
    retryStrategy: (times: number) => Math.min(100 * times, MAX_RECONNECT_DELAY_MS),
    lazyConnect: false,
  };
  const redis = options.forBullmq || options.subscriber
    ? new Redis(url, {
        ...common,
        maxRetriesPerRequest: null,
        enableReadyCheck: !options.subscriber,
        autoResubscribe: !options.manualResubscribe,
      })
    : new Redis(url, {
        ...common,
        // Commands issued while Redis is down wait in the offline queue at most this long, then
        // reject; the request gets a 503 instead of hanging.
        commandTimeout: REQUEST_COMMAND_TIMEOUT_MS,
        maxRetriesPerRequest: 1,
      });

  let lastErrorLog = 0;
  let wasReady = false;
  redis.on('error', (err: Error) => {
    const now = Date.now();
    if (now - lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    lastErrorLog = now;
    // The message of a connection error never contains the password; the URL is redacted above.
    log.warn({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'redis connection error');
  });
  redis.on('ready', () => {
    if (wasReady) log.info('redis connection restored');
    wasReady = true;
    lastErrorLog = 0;
  });
  return redis;
}

/** Closes a connection without waiting for a Redis that may be down. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    // QUIT lets pending replies arrive first; wait for it longer while Redis answers, so a loaded
    // machine does not cut it short and fail those commands.
    const boundMs = redis.status === 'ready' ? 3_000 : 500;
    await settlesWithin(redis.quit(), boundMs);
  } catch {
    // Already closed or Redis unreachable: disconnect below either way.
  }
  redis.disconnect(false);
}

/** Health of a connection as SPEC §2 reports it (`redis` key). */
export async function redisHealth(redis: Redis): Promise<'connected' | 'disconnected' | `error: ${string}`> {
  if (redis.status !== 'ready') return 'disconnected';
  try {
    await withTimeout(redis.ping(), REQUEST_COMMAND_TIMEOUT_MS);
    return 'connected';
  } catch (err) {
    return isConnectionError(err) ? 'disconnected' : `error: ${(err as Error).message}`;
  }
}

const CONNECTION_ERROR = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|Connection is closed|Command timed out|enableOfflineQueue|max retries|Reached the max retries|Stream isn't writeable|Redis unavailable/i;

/** True for errors that mean Redis could not be reached, as opposed to a bad command. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return CONNECTION_ERROR.test(`${code} ${err.name} ${err.message}`);
}

/**
 * Maps a Redis failure on a request path to the SPEC's `system_error` with status 503, so the
 * client sees a JSON error and can retry; an AppError passes through unchanged.
 */
export function toRedisAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('system_error', {
    status: 503,
    cause: err,
    detail: `redis: ${err instanceof Error ? err.message : String(err)}`,
  });
}

/**
 * Runs a request-path Redis call: rejects with a 503 AppError on any Redis failure, and at the
 * latest after `timeoutMs` even if the driver itself would wait longer.
 */
export async function redisCall<T>(fn: () => Promise<T>, timeoutMs = REQUEST_COMMAND_TIMEOUT_MS + 300): Promise<T> {
  try {
    return await withTimeout(fn(), timeoutMs);
  } catch (err) {
    throw toRedisAppError(err);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return rejectAfter(promise, ms, () => new Error('Redis unavailable: no reply in time'));
}
