import { afterAll, beforeAll, it, expect } from 'vitest';
import { MEDIA_FORMAT_IDS, startMediaServer, type MediaServer } from '../helpers/media.js';
import { processesMatching } from '../helpers/processes.js';
import { uniquePrefix } from '../redis/redis-test-env.js';
import { startCluster, type Cluster } from './cluster.js';
import { createJob, getJob, sleep, until } from './cluster-client.js';
import { startOwnRedis, type OwnRedis } from './redis-server.js';
let redis: OwnRedis; let media: MediaServer; let cluster: Cluster;
beforeAll(async () => {
  redis = await startOwnRedis({ password: 'x', db: 1 });
  media = await startMediaServer();
  cluster = await startCluster({ redisUrl: redis.url, prefix: uniquePrefix(), apis: 1, workers: 1, env: { WORKER_CONCURRENCY: '1' } });
});
afterAll(async () => { await cluster?.close(); await media?.close(); await redis?.destroy(); });
it('explore', async () => {
  const api = cluster.apis[0]!.url;
  const id = await createJob(api, `${media.baseUrl}/video.mp4?x`, MEDIA_FORMAT_IDS.progressive);
  await until(async () => (await processesMatching(id)).length > 0, 20_000);
  await redis.stop();
  await sleep(5000);
  await redis.start();
  for (let i = 0; i < 20; i++) { await sleep(1000); try { console.log(i, JSON.stringify(await getJob(api, id))); } catch (e) { console.log(i, String(e)); } }
  console.log(cluster.workers[0]!.output().split('\n').filter(l => /job|error/i.test(l)).map(l => l.slice(0, 300)).join('\n'));
  expect(1).toBe(1);
}, 120_000);
