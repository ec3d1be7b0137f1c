/**
 * The rate limits of SPEC §7 as named policies over fixed UTC windows. A request takes one point
 * from every limit that applies, in order; the first limit it exceeds rejects it, and everything
 * it took (the rejecting limit included) is given back, so a refused request counts nowhere.
 * When the store fails the request passes (fail-open): an outage of the limiter never yields a 429.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { DownloadType } from '../downloads/job.js';
import { AppError } from '../errors.js';
import { createIpMatcher, hashClientKey } from './client-ip.js';
import { createRateLimitStore, type RateLimitBackend, type RateLimitStore } from './rate-limit-store.js';
import { windowAt, type WindowKind } from './rate-limit-windows.js';
import { rejectAfter } from '../time-limits.js';

/** The `limit_type` values of a 429 body (SPEC §7). */
export type LimitType =
  | 'per_minute'
  | 'daily_video-only'
  | 'daily_audio-only'
  | 'daily_video-audio'
  | 'daily_total'
  | 'endpoint_hourly'
  | 'active_jobs';

/** The path of `POST /downloads/`, whose hourly limit consumeDownload applies. */
export const DOWNLOADS_PATH = '/api/v1/downloads';

/** A store call slower than this counts as a failure: requests must not hang on the limiter. */
const STORE_TIMEOUT_MS = 2_000;
/** At most one fail-open warning per this interval, so an outage does not flood the logs. */
const FAIL_OPEN_LOG_INTERVAL_MS = 60_000;
/** How long consumeDownload remembers what it took, for refundDownload to give it back. */
const REFUND_MEMORY_MS = 60_000;
/** The suggested wait of an `active_jobs` 429, in seconds: active jobs end at no fixed time. */
const ACTIVE_JOBS_RETRY_AFTER_S = 30;
/** Counters outlive their window slightly, so clock skew between processes cannot reset one early. */
const KEY_TTL_GRACE_S = 60;

export interface RateLimitServiceDeps {
  config: Pick<Config, 'production' | 'rateLimit'>;
  backend: RateLimitBackend;
  logger: Logger;
  /** Unix ms; decides the calendar windows. */
  clock?: () => number;
  storeTimeoutMs?: number;
}

interface Policy {
  type: Exclude<LimitType, 'active_jobs'>;
  /** The counter's name in its key. */
  name: string;
  limit: number;
  window: WindowKind;
}

interface Taken {
  key: string;
  limit: number;
  ttlSeconds: number;
}

interface Outcome {
  policy: Policy;
  count: number;
  resetAt: number;
}

/** Marks a store that did not answer in time; treated like any store failure. */
class StoreTimeout extends Error {}

function normalizePath(path: string): string {
  const bare = (path.split('?')[0] ?? '').replace(/\/{2,}/g, '/');
  return bare.length > 1 ? bare.replace(/\/+$/, '') : bare;
}

function limitHeaders(outcome: Outcome): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(outcome.policy.limit),
    'X-RateLimit-Remaining': String(Math.max(0, outcome.policy.limit - outcome.count)),
    'X-RateLimit-Reset': String(Math.ceil(outcome.resetAt / 1000)),
  };
}

/** The most restrictive: the fewest remaining, and of those the one that resets last. */
function mostRestrictive(outcomes: Outcome[]): Outcome | undefined {
  const remaining = (o: Outcome): number => Math.max(0, o.policy.limit - o.count);
  return outcomes.reduce<Outcome | undefined>((best, o) => {
    if (!best) return o;
    if (remaining(o) !== remaining(best)) return remaining(o) < remaining(best) ? o : best;
    return o.resetAt > best.resetAt ? o : best;
  }, undefined);
}

function rateLimitedError(limitType: LimitType, resetAt: number, now: number, headers: Record<string, string>): AppError {
  const retryAfter = Math.max(1, Math.ceil((resetAt - now) / 1000));
  return new AppError('rate_limited', {
    status: 429,
    extra: { limit_type: limitType, reset_at: new Date(resetAt).toISOString() },
    headers: { 'Retry-After': String(retryAfter), ...headers },
    detail: `rate limit ${limitType} exceeded`,
  });
}

export function createRateLimitService(deps: RateLimitServiceDeps) {
  const now = deps.clock ?? Date.now;
  // SPEC §7: limits apply only in production with RATE_LIMIT_ENABLED.
  const active = deps.config.production && deps.config.rateLimit.enabled;
  const limits = deps.config.rateLimit;
  const storeTimeoutMs = deps.storeTimeoutMs ?? STORE_TIMEOUT_MS;
  const store: RateLimitStore | null = active ? createRateLimitStore(deps.backend) : null;
  const whitelisted = createIpMatcher(limits.whitelist);
  const endpointLimits = new Map(limits.endpointHourly.map((e) => [normalizePath(e.path), e.limit]));

  let failOpen = 0;
  let lastFailLogAt = -Infinity;
  let suppressedFailLogs = 0;
  const recentTakes = new Map<string, { at: number; taken: Taken[] }[]>();
  let lastPruneAt = 0;

  function endpointPolicy(path: string): Policy | null {
    const limit = endpointLimits.get(path);
    return limit === undefined ? null : { type: 'endpoint_hourly', name: `endpoint_hourly:${path}`, limit, window: 'hour' };
  }

  function downloadPolicies(type: DownloadType): Policy[] {
    const daily = { 'video-only': limits.videoOnlyDaily, 'audio-only': limits.audioOnlyDaily, 'video-audio': limits.videoAudioDaily };
    const hourly = endpointPolicy(DOWNLOADS_PATH);
    return [
      { type: 'per_minute', name: 'per_minute', limit: limits.perMinute, window: 'minute' },
      ...(hourly ? [hourly] : []),
      { type: `daily_${type}`, name: `daily_${type}`, limit: daily[type], window: 'day' },
      { type: 'daily_total', name: 'daily_total', limit: limits.totalDaily, window: 'day' },
    ];
  }

  function withTimeout<T>(promise: Promise<T>): Promise<T> {
    return rejectAfter(promise, storeTimeoutMs, () => new StoreTimeout(`rate-limit store gave no answer in ${storeTimeoutMs} ms`));
  }

  function recordFailOpen(err: unknown): void {
    failOpen += 1;
    const at = now();
    if (at - lastFailLogAt < FAIL_OPEN_LOG_INTERVAL_MS) {
      suppressedFailLogs += 1;
      return;
    }
    deps.logger.warn(
      { err, failOpen, suppressedSinceLastWarning: suppressedFailLogs },
      'rate-limit store failed; requests pass unlimited until it recovers',
    );
    lastFailLogAt = at;
    suppressedFailLogs = 0;
  }

  async function giveBack(taken: Taken[]): Promise<void> {
    await Promise.all(
      taken.map((t) =>
        withTimeout(store!.giveBack(t.key, t.limit, t.ttlSeconds)).catch((err: unknown) => {
          // A lost give-back over-counts one request; it must not fail the request itself.
          deps.logger.warn({ err }, 'rate-limit give-back failed');
        }),
      ),
    );
  }

  /**
   * Takes one point of each policy in order. Resolves what was taken and the outcomes, or throws
   * the 429 of the first policy exceeded after giving everything back. A store failure resolves
   * with what was taken so far and no outcomes: the request passes.
   */
  async function takeAll(ip: string, policies: Policy[]): Promise<{ taken: Taken[]; outcomes: Outcome[] }> {
    const client = hashClientKey(ip);
    const taken: Taken[] = [];
    const outcomes: Outcome[] = [];
    for (const policy of policies) {
      const at = now();
      const window = windowAt(policy.window, at);
      const t: Taken = {
        key: `${policy.name}:${client}:${window.id}`,
        limit: policy.limit,
        ttlSeconds: Math.ceil((window.resetAt - at) / 1000) + KEY_TTL_GRACE_S,
      };
      let count: number;
      try {
        count = await withTimeout(store!.take(t.key, t.limit, t.ttlSeconds));
      } catch (err) {
        recordFailOpen(err);
        return { taken, outcomes: [] };
      }
      taken.push(t);
      const outcome = { policy, count, resetAt: window.resetAt };
      if (count > policy.limit) {
        await giveBack(taken);
        throw rateLimitedError(policy.type, window.resetAt, at, limitHeaders(outcome));
      }
      outcomes.push(outcome);
    }
    return { taken, outcomes };
  }

  function remember(refundKey: string, taken: Taken[]): void {
    const at = now();
    if (at - lastPruneAt > REFUND_MEMORY_MS) {
      lastPruneAt = at;
      for (const [key, entries] of recentTakes) {
        const fresh = entries.filter((e) => at - e.at < REFUND_MEMORY_MS);
        if (fresh.length > 0) recentTakes.set(key, fresh);
        else recentTakes.delete(key);
      }
    }
    const entries = recentTakes.get(refundKey) ?? [];
    entries.push({ at, taken });
    recentTakes.set(refundKey, entries);
  }

  return {
    /** False unless production with RATE_LIMIT_ENABLED; then every method is a no-op. */
    active,

    /**
     * Spends the download quotas of one `POST /downloads/` (per minute, the endpoint's hourly
     * limit if listed, the type's daily limit, the daily total). Resolves the X-RateLimit-*
     * headers of the most restrictive limit; throws the 429 `rate_limited` AppError otherwise.
     */
    /** True when no limit applies to this client: limiting is off, or it is whitelisted. */
    isExempt(ip: string): boolean {
      return !active || whitelisted(ip);
    },

    async consumeDownload(ip: string, type: DownloadType): Promise<Record<string, string>> {
      if (!active || whitelisted(ip)) return {};
      const { taken, outcomes } = await takeAll(ip, downloadPolicies(type));
      if (taken.length > 0) remember(`${hashClientKey(ip)}|${type}`, taken);
      const best = mostRestrictive(outcomes);
      return best ? limitHeaders(best) : {};
    },

    /** Gives back what the last consumeDownload for this client and type took (job creation failed). */
    async refundDownload(ip: string, type: DownloadType): Promise<void> {
      if (!active) return;
      // What was taken is remembered rather than recomputed: the windows may have turned since.
      const entries = recentTakes.get(`${hashClientKey(ip)}|${type}`);
      const last = entries?.pop();
      if (entries?.length === 0) recentTakes.delete(`${hashClientKey(ip)}|${type}`);
      if (last) await giveBack(last.taken);
    },

    /** True when `consumeEndpoint` limits requests to this route path. */
    limitsEndpoint(path: string): boolean {
      const normalized = normalizePath(path);
      return active && normalized !== DOWNLOADS_PATH && endpointPolicy(normalized) !== null;
    },

    /**
     * Spends the hourly limit of a listed endpoint other than the downloads one. Resolves its
     * headers, `{}` when the store failed, or null when the path is not limited.
     */
    async consumeEndpoint(path: string, ip: string): Promise<Record<string, string> | null> {
      if (!active) return null;
      const normalized = normalizePath(path);
      const policy = normalized === DOWNLOADS_PATH ? null : endpointPolicy(normalized);
      if (!policy) return null;
      if (whitelisted(ip)) return {};
      const { outcomes } = await takeAll(ip, [policy]);
      const best = mostRestrictive(outcomes);
      return best ? limitHeaders(best) : {};
    },

    /** Counters for health and metrics: how many requests passed because the store failed. */
    stats(): { failOpen: number } {
      return { failOpen };
    },

    /** The 429 of MAX_ACTIVE_JOBS_PER_CLIENT (SPEC §10), `limit_type` `active_jobs`. */
    activeJobsError(resetAt?: number): AppError {
      const at = now();
      const reset = resetAt ?? at + ACTIVE_JOBS_RETRY_AFTER_S * 1000;
      return rateLimitedError('active_jobs', reset, at, {});
    },

    /** Stops the store's timers; the connection behind the backend stays open for its owner. */
    close(): void {
      store?.close();
    },
  };
}

export type RateLimitService = ReturnType<typeof createRateLimitService>;
