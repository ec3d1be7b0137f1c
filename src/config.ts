/**
 * Environment → typed Config, parsed once (SPEC §9). Every bad variable is collected and reported
 * together by `ConfigError`; nothing falls back silently to a default.
 */
import path from 'node:path';
import { validateIpList } from './ratelimit/client-ip.js';

export type Mode = 'embedded' | 'distributed';

export interface EndpointLimit {
  /** Full path without a trailing slash, e.g. `/api/v1/downloads`. */
  path: string;
  limit: number;
}

export interface Config {
  mode: Mode;
  env: string;
  production: boolean;
  host: string;
  port: number;
  workerPort: number;
  logLevel: string;

  redisUrl: string | null;
  redisPrefix: string;

  dataDir: string;
  downloadDir: string;

  workerConcurrency: number;
  shutdownGraceSeconds: number;
  jobTtlSeconds: number;
  fileTtlMinutes: number;
  metadataCacheTtlSeconds: number;
  cleanupIntervalSeconds: number;
  downloadTimeoutSeconds: number;
  minFreeDiskMb: number;
  maxFilesize: number | null;
  maxDurationSeconds: number | null;
  maxQueuedJobs: number;
  maxActiveJobsPerClient: number;

  socketioEnabled: boolean;
  publicBaseUrl: string | null;
  corsOrigins: string[] | '*';
  trustProxy: string[];
  apiKeys: string[];
  allowedHosts: string[] | '*';

  ytdlpPath: string;
  ffmpegPath: string;
  ytdlpCookiesFile: string | null;
  ytdlpProxy: string | null;

  gcsEnabled: boolean;
  gcsBucketName: string | null;
  googleApplicationCredentials: string | null;
  signedUrlTtlSeconds: number;

  rateLimit: {
    enabled: boolean;
    perMinute: number;
    videoOnlyDaily: number;
    audioOnlyDaily: number;
    videoAudioDaily: number;
    totalDaily: number;
    endpointHourly: EndpointLimit[];
    whitelist: string[];
  };
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export const DEFAULT_ALLOWED_HOSTS = [
  'youtube.com',
  'www.youtube.com',
  'm.youtube.com',
  'music.youtube.com',
  'youtu.be',
];

type Env = Record<string, string | undefined>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(...names: string[]): { name: string; value: string } | undefined {
    for (const name of names) {
      const value = this.env[name];
      if (value !== undefined && value.trim() !== '') return { name, value: value.trim() };
    }
    return undefined;
  }

  string(names: string | string[], fallback: string): string {
    return this.raw(...[names].flat())?.value ?? fallback;
  }

  optionalString(names: string | string[]): string | null {
    return this.raw(...[names].flat())?.value ?? null;
  }

  int(names: string | string[], fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const found = this.raw(...[names].flat());
    if (!found) return fallback;
    return this.parseInt(found.name, found.value, min, max) ?? fallback;
  }

  optionalInt(names: string | string[], min: number): number | null {
    const found = this.raw(...[names].flat());
    if (!found) return null;
    return this.parseInt(found.name, found.value, min, Number.MAX_SAFE_INTEGER);
  }

  private parseInt(name: string, value: string, min: number, max: number): number | null {
    if (!/^-?\d+$/.test(value)) {
      this.problems.push(`${name}=${JSON.stringify(value)} is not a whole number`);
      return null;
    }
    const n = Number(value);
    if (n < min || n > max) {
      this.problems.push(`${name}=${value} must be between ${min} and ${max}`);
      return null;
    }
    return n;
  }

  bool(names: string | string[], fallback: boolean): boolean {
    const found = this.raw(...[names].flat());
    if (!found) return fallback;
    const v = found.value.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    this.problems.push(`${found.name}=${JSON.stringify(found.value)} is not a boolean (true/false)`);
    return fallback;
  }

  list(names: string | string[]): string[] | null {
    const found = this.raw(...[names].flat());
    if (!found) return null;
    return found.value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  size(name: string): number | null {
    const found = this.raw(name);
    if (!found) return null;
    const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(found.value);
    if (!m) {
      this.problems.push(`${name}=${JSON.stringify(found.value)} is not a size (e.g. 500M, 2G)`);
      return null;
    }
    const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[
      (m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g' | 't'
    ];
    return Math.floor(Number(m[1]) * unit);
  }
}

function parseEndpointLimits(r: Reader, name: string): EndpointLimit[] {
  const items = r.list(name) ?? [];
  const limits: EndpointLimit[] = [];
  for (const item of items) {
    const idx = item.lastIndexOf(':');
    const p = idx > 0 ? item.slice(0, idx) : '';
    const n = idx > 0 ? item.slice(idx + 1) : '';
    if (!p.startsWith('/') || !/^\d+$/.test(n) || Number(n) < 1) {
      r.problems.push(`${name} entry ${JSON.stringify(item)} is not "<path>:<limit>"`);
      continue;
    }
    limits.push({ path: p.length > 1 ? p.replace(/\/+$/, '') : p, limit: Number(n) });
  }
  return limits;
}

function parseUrl(r: Reader, name: string, protocols: string[]): string | null {
  const value = r.optionalString(name);
  if (value === null) return null;
  try {
    const u = new URL(value);
    if (!protocols.includes(u.protocol)) throw new Error('protocol');
    return value;
  } catch {
    r.problems.push(`${name}=${JSON.stringify(redactUrl(value))} is not a ${protocols.join('/')} URL`);
    return null;
  }
}

/** Hides the password of a URL such as `redis://:secret@host`, for messages and logs. */
export function redactUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return value.replace(/\/\/[^@/]*@/, '//***@');
  }
}

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const r = new Reader(env);
  const nodeEnv = r.string(['NODE_ENV', 'FLASK_ENV'], 'development');
  const redisUrl = parseUrl(r, 'REDIS_URL', ['redis:', 'rediss:']);
  const gcsBucketName = r.optionalString('GCS_BUCKET_NAME');
  const gcsFlag = r.raw('GCS_ENABLED');
  const gcsEnabled = gcsFlag ? r.bool('GCS_ENABLED', false) : gcsBucketName !== null;
  if (gcsEnabled && !gcsBucketName) r.problems.push('GCS_ENABLED=true requires GCS_BUCKET_NAME');

  const allowed = r.list('ALLOWED_HOSTS');
  const cors = r.list('CORS_ORIGINS');
  const publicBaseUrl = parseUrl(r, 'PUBLIC_BASE_URL', ['http:', 'https:']);
  const logLevel = r.string('LOG_LEVEL', 'info').toLowerCase();
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    r.problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)} is not one of fatal, error, warn, info, debug, trace, silent`);
  }

  const trustProxy = r.list('TRUST_PROXY') ?? ['loopback'];
  r.problems.push(...validateIpList(trustProxy, 'TRUST_PROXY'));
  const whitelist = r.list('RATE_LIMIT_WHITELIST') ?? [];
  r.problems.push(...validateIpList(whitelist, 'RATE_LIMIT_WHITELIST'));

  const config: Config = {
    mode: redisUrl ? 'distributed' : 'embedded',
    env: nodeEnv,
    production: nodeEnv === 'production',
    host: r.string(['HOST', 'FLASK_HOST'], '0.0.0.0'),
    port: r.int(['PORT', 'FLASK_PORT'], 8000, 0, 65535),
    workerPort: r.int('WORKER_PORT', 8001, 0, 65535),
    logLevel,

    redisUrl,
    redisPrefix: r.string('REDIS_PREFIX', 'ultradl:'),

    dataDir: path.resolve(cwd, r.string('DATA_DIR', './data')),
    downloadDir: path.resolve(cwd, r.string('DOWNLOAD_DIR', '/tmp/ultra-dl')),

    workerConcurrency: r.int(['WORKER_CONCURRENCY', 'CELERY_WORKER_CONCURRENCY'], 2, 1, 64),
    shutdownGraceSeconds: r.int('SHUTDOWN_GRACE_SECONDS', 30, 0, 3600),
    jobTtlSeconds: r.int('JOB_TTL_SECONDS', 3600, 1),
    fileTtlMinutes: r.int('FILE_TTL_MINUTES', 10, 1),
    metadataCacheTtlSeconds: r.int('METADATA_CACHE_TTL_SECONDS', 300, 0),
    cleanupIntervalSeconds: r.int('CLEANUP_INTERVAL_SECONDS', 300, 1),
    downloadTimeoutSeconds: r.int('DOWNLOAD_TIMEOUT_SECONDS', 5400, 1),
    minFreeDiskMb: r.int('MIN_FREE_DISK_MB', 500, 0),
    maxFilesize: r.size('MAX_FILESIZE'),
    maxDurationSeconds: r.optionalInt('MAX_DURATION_SECONDS', 1),
    maxQueuedJobs: r.int('MAX_QUEUED_JOBS', 1000, 1),
    maxActiveJobsPerClient: r.int('MAX_ACTIVE_JOBS_PER_CLIENT', 5, 1),

    socketioEnabled: r.bool('SOCKETIO_ENABLED', true),
    publicBaseUrl: publicBaseUrl ? publicBaseUrl.replace(/\/+$/, '') : null,
    corsOrigins: !cors || cors.includes('*') ? '*' : cors,
    trustProxy,
    apiKeys: r.list('API_KEYS') ?? [],
    allowedHosts: !allowed ? DEFAULT_ALLOWED_HOSTS : allowed.includes('*') ? '*' : allowed.map((h) => h.toLowerCase()),

    ytdlpPath: r.string('YTDLP_PATH', 'yt-dlp'),
    ffmpegPath: r.string('FFMPEG_PATH', 'ffmpeg'),
    ytdlpCookiesFile: r.optionalString('YTDLP_COOKIES_FILE'),
    ytdlpProxy: r.optionalString('YTDLP_PROXY'),

    gcsEnabled,
    gcsBucketName,
    googleApplicationCredentials: r.optionalString('GOOGLE_APPLICATION_CREDENTIALS'),
    signedUrlTtlSeconds: r.int('SIGNED_URL_TTL_SECONDS', 300, 1, 7 * 24 * 3600),

    rateLimit: {
      enabled: r.bool('RATE_LIMIT_ENABLED', true),
      perMinute: r.int('RATE_LIMIT_BATCH_MINUTE', 10, 1),
      videoOnlyDaily: r.int('RATE_LIMIT_VIDEO_ONLY_DAILY', 20, 1),
      audioOnlyDaily: r.int('RATE_LIMIT_AUDIO_ONLY_DAILY', 20, 1),
      videoAudioDaily: r.int('RATE_LIMIT_VIDEO_AUDIO_DAILY', 20, 1),
      totalDaily: r.int('RATE_LIMIT_TOTAL_JOBS_DAILY', 60, 1),
      endpointHourly: parseEndpointLimits(r, 'RATE_LIMIT_ENDPOINT_HOURLY'),
      whitelist,
    },
  };

  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

