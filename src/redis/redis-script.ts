/**
 * Lua scripts run by SHA with a fallback to sending the source once, so each call after the first
 * costs one short round-trip and stays atomic on the Redis side.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export type RedisScript = (redis: Redis, keys: string[], args: (string | number)[]) => Promise<unknown>;

export function defineScript(lua: string): RedisScript {
  const sha = createHash('sha1').update(lua).digest('hex');
  return async (redis, keys, args) => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
      return redis.eval(lua, keys.length, ...keys, ...args);
    }
  };
}
