/**
 * Video metadata with a cache and single-flight (SPEC §5): concurrent requests for one URL share one
 * yt-dlp run, and the worker reuses the cached info instead of extracting the URL again.
 */
import { createHash } from 'node:crypto';
import type { Cache } from '../cache/cache.js';
import { AppError } from '../errors.js';
import { mapInfo, type FormatEntry, type VideoMeta } from './format-mapping.js';
import { normalizeMediaUrl, type MediaUrl } from './media-url.js';

/** The raw `yt-dlp -J` document. */
export type VideoInfo = Record<string, unknown>;

export interface Resolution {
  info: VideoInfo;
  meta: VideoMeta;
  formats: FormatEntry[];
}

export interface MetadataServiceDeps {
  extractInfo(url: string): Promise<VideoInfo>;
  cache: Cache;
  ttlSeconds: number;
  maxDurationSeconds: number | null;
}

export function metadataCacheKey(url: MediaUrl): string {
  const digest = createHash('sha256').update(normalizeMediaUrl(url)).digest('hex');
  return `video:metadata:${digest}`;
}

export function createMetadataService(deps: MetadataServiceDeps) {
  function resolved(info: VideoInfo): Resolution {
    return { info, ...mapInfo(info as Parameters<typeof mapInfo>[0]) };
  }

  /** Refuses what no download can be started for: live streams, videos over the duration bound. */
  function assertDownloadable(info: VideoInfo): void {
    if (info.is_live === true || info.live_status === 'is_live' || info.live_status === 'is_upcoming') {
      throw new AppError('video_unavailable', { detail: 'live streams are not supported' });
    }
    const duration = typeof info.duration === 'number' ? info.duration : null;
    if (deps.maxDurationSeconds !== null && duration !== null && duration > deps.maxDurationSeconds) {
      throw new AppError('file_too_large', {
        detail: `duration ${duration}s is over MAX_DURATION_SECONDS=${deps.maxDurationSeconds}`,
      });
    }
  }

  return {
    assertDownloadable,

    /** The cached resolution of a URL, or null; never runs yt-dlp. */
    async peek(url: MediaUrl): Promise<Resolution | null> {
      const info = await deps.cache.get<VideoInfo>(metadataCacheKey(url));
      return info ? resolved(info) : null;
    },

    /** The resolution of a URL, from the cache or from one shared yt-dlp run. */
    async resolve(url: MediaUrl): Promise<Resolution> {
      const key = metadataCacheKey(url);
      const cached = await deps.cache.get<VideoInfo>(key);
      if (cached) return resolved(cached);
      const info = await deps.cache.singleFlight(key, async () => {
        const again = await deps.cache.get<VideoInfo>(key);
        if (again) return again;
        // One run serves every waiter, so no single caller's abort may cancel it.
        const fresh = await deps.extractInfo(url);
        if (deps.ttlSeconds > 0) await deps.cache.set(key, fresh, deps.ttlSeconds);
        return fresh;
      });
      return resolved(info);
    },
  };
}

export type MetadataService = ReturnType<typeof createMetadataService>;
