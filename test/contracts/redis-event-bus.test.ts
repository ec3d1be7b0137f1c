import { createRedisEventBus, type RedisEventBus } from '../../src/events/redis-event-bus.js';
import { closeRedis, createRedis } from '../../src/redis/redis-connection.js';
import { TEST_REDIS_URL, deleteKeys, silentLogger, uniquePrefix } from '../redis/redis-test-env.js';
import { describeEventBusContract } from './event-bus.contract.js';

describeEventBusContract('redis', async () => {
  const prefix = uniquePrefix();
  const opened: { bus: RedisEventBus; close(): Promise<void> }[] = [];
  // Each bus has its own connection, as each process would.
  const open = async () => {
    const redis = createRedis(TEST_REDIS_URL, { role: 'test-events', logger: silentLogger });
    const bus = createRedisEventBus({ redis, prefix, logger: silentLogger });
    await bus.ready();
    opened.push({ bus, close: async () => (await bus.close(), await closeRedis(redis)) });
    return bus;
  };
  return {
    bus: await open(),
    peer: open,
    cleanup: async () => {
      for (const o of opened) await o.close();
      await deleteKeys(TEST_REDIS_URL, prefix);
    },
  };
});
