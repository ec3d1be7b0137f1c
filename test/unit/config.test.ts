import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_ALLOWED_HOSTS, loadConfig, redactUrl } from '../../src/config.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, '/srv');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('has the SPEC defaults', () => {
    const c = loadConfig({}, '/srv');
    expect(c).toMatchObject({
      mode: 'embedded',
      host: '0.0.0.0',
      port: 8000,
      workerPort: 8001,
      redisUrl: null,
      redisPrefix: 'ultradl:',
      dataDir: '/srv/data',
      downloadDir: '/tmp/ultra-dl',
      workerConcurrency: 2,
      shutdownGraceSeconds: 30,
      jobTtlSeconds: 3600,
      fileTtlMinutes: 10,
      metadataCacheTtlSeconds: 300,
      cleanupIntervalSeconds: 300,
      downloadTimeoutSeconds: 5400,
      minFreeDiskMb: 500,
      maxFilesize: null,
      maxQueuedJobs: 1000,
      maxActiveJobsPerClient: 5,
      signedUrlTtlSeconds: 300,
      corsOrigins: '*',
      trustProxy: ['loopback'],
      apiKeys: [],
      gcsEnabled: false,
      production: false,
    });
    expect(c.allowedHosts).toEqual(DEFAULT_ALLOWED_HOSTS);
    expect(c.rateLimit).toMatchObject({ enabled: true, perMinute: 10, videoOnlyDaily: 20, totalDaily: 60, endpointHourly: [] });
  });

  it('accepts the original Flask and Celery names as aliases', () => {
    const c = loadConfig({ FLASK_ENV: 'production', FLASK_HOST: '127.0.0.1', FLASK_PORT: '9000', CELERY_WORKER_CONCURRENCY: '4' });
    expect(c).toMatchObject({ production: true, host: '127.0.0.1', port: 9000, workerConcurrency: 4 });
  });

  it('switches to distributed mode with REDIS_URL, password and DB index included', () => {
    const c = loadConfig({ REDIS_URL: 'redis://:s3cret@redis:6380/2' });
    expect(c.mode).toBe('distributed');
    expect(redactUrl(c.redisUrl!)).toBe('redis://:***@redis:6380/2');
  });

  it('parses sizes, lists and endpoint limits', () => {
    const c = loadConfig({
      MAX_FILESIZE: '2G',
      ALLOWED_HOSTS: '127.0.0.1, Example.com',
      CORS_ORIGINS: 'https://a.example,https://b.example',
      RATE_LIMIT_ENDPOINT_HOURLY: '/api/v1/videos/resolutions:100,/api/v1/downloads/:50',
      GCS_BUCKET_NAME: 'bucket',
    });
    expect(c.maxFilesize).toBe(2 * 1024 ** 3);
    expect(c.allowedHosts).toEqual(['127.0.0.1', 'example.com']);
    expect(c.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(c.rateLimit.endpointHourly).toEqual([
      { path: '/api/v1/videos/resolutions', limit: 100 },
      { path: '/api/v1/downloads', limit: 50 },
    ]);
    // As in the original: a bucket name alone turns GCS on.
    expect(c.gcsEnabled).toBe(true);
    expect(loadConfig({ ALLOWED_HOSTS: '*' }).allowedHosts).toBe('*');
  });

  it('reports every bad variable together', () => {
    const found = problems({
      PORT: 'eighty',
      WORKER_CONCURRENCY: '0',
      SOCKETIO_ENABLED: 'maybe',
      REDIS_URL: 'http://not-redis',
      MAX_FILESIZE: 'huge',
      GCS_ENABLED: 'true',
      RATE_LIMIT_ENDPOINT_HOURLY: 'downloads=5',
      LOG_LEVEL: 'loud',
      PUBLIC_BASE_URL: 'ftp://x',
    });
    const text = found.join('\n');
    for (const name of ['PORT', 'WORKER_CONCURRENCY', 'SOCKETIO_ENABLED', 'REDIS_URL', 'MAX_FILESIZE', 'GCS_BUCKET_NAME', 'RATE_LIMIT_ENDPOINT_HOURLY', 'LOG_LEVEL', 'PUBLIC_BASE_URL']) {
      expect(text).toContain(name);
    }
    expect(found).toHaveLength(9);
  });

  it('never shows a Redis password in its messages', () => {
    expect(problems({ REDIS_URL: 'http://:topsecret@host' }).join('\n')).not.toContain('topsecret');
  });
});
