/**
 * yt-dlp's `-J` info → the `{meta, formats}` the client shows (SPEC §2). Pure: the same info always
 * maps to the same list, so the POST handler and the worker agree on ids and types.
 */
import type { DownloadType } from '../downloads/job.js';
import type { YtdlpFormat, YtdlpInfo } from '../engine/ytdlp-info.js';
import { downloadTypeFromId, formatPartProblem, isSelector, parts } from './format-id.js';

export interface VideoMeta {
  id: string | null;
  title: string | null;
  uploader: string | null;
  /** Seconds; null for live streams and pages that do not say. */
  duration: number | null;
  thumbnail: string | null;
}

export type FormatType = 'video+audio' | 'video_only' | 'audio_only';

export interface FormatEntry {
  format_id: string;
  ext: string;
  resolution: string;
  /** 0 for audio and when unknown. */
  height: number;
  note: string | null;
  /** Bytes: exact, approximate or estimated from bitrate × duration; null when unknown. */
  filesize: number | null;
  /** yt-dlp's codec, `"none"` when absent, `"unknown"` when yt-dlp does not say. */
  vcodec: string;
  acodec: string;
  quality_label: 'Ultra' | 'Excellent' | 'Great' | 'Good' | 'Standard';
  type: FormatType;
}

/** Extensions that are audio files whatever yt-dlp says (or does not say) about the video codec. */
const AUDIO_EXTENSIONS = new Set(['m4a', 'mp3', 'opus', 'ogg', 'wav', 'flac', 'aac']);
const TYPE_ORDER: Record<FormatType, number> = { 'video+audio': 0, video_only: 1, audio_only: 2 };

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function positive(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : null;
}

function codec(value: unknown): string {
  return str(value) ?? 'unknown';
}

function qualityLabel(height: number): FormatEntry['quality_label'] {
  if (height >= 2160) return 'Ultra';
  if (height >= 1440) return 'Excellent';
  if (height >= 1080) return 'Great';
  if (height >= 720) return 'Good';
  return 'Standard';
}

function formatType(ext: string, vcodec: string, acodec: string): FormatType {
  // An unknown codec counts as present: progressive files often come without codec names.
  if (vcodec === 'unknown' && AUDIO_EXTENSIONS.has(ext)) return 'audio_only';
  if (vcodec !== 'none' && acodec !== 'none') return 'video+audio';
  return vcodec !== 'none' ? 'video_only' : 'audio_only';
}

/** Bytes of one yt-dlp format: filesize, else filesize_approx, else tbr × duration, else null. */
export function estimatedSize(format: YtdlpFormat, duration: number | null | undefined): number | null {
  const exact = positive(format.filesize) ?? positive(format.filesize_approx);
  if (exact !== null) return Math.round(exact);
  const tbr = positive(format.tbr);
  const seconds = positive(format.duration) ?? positive(duration);
  // tbr is kbit/s with k = 1000, as yt-dlp computes it.
  return tbr !== null && seconds !== null ? Math.round((tbr * 1000 * seconds) / 8) : null;
}

function isStoryboard(format: YtdlpFormat): boolean {
  return format.ext === 'mhtml' || (format.vcodec === 'none' && format.acodec === 'none');
}

function mapFormat(format: YtdlpFormat, duration: number | null): FormatEntry | null {
  const id = str(format.format_id);
  if (id === null || formatPartProblem(id) !== null || isStoryboard(format)) return null;
  const ext = str(format.ext) ?? 'unknown';
  const vcodec = codec(format.vcodec);
  const acodec = codec(format.acodec);
  const type = formatType(ext, vcodec, acodec);
  const width = positive(format.width);
  const rawHeight = positive(format.height);
  const height = type === 'audio_only' || rawHeight === null ? 0 : Math.round(rawHeight);
  let resolution = 'unknown';
  if (width !== null && rawHeight !== null) resolution = `${Math.round(width)}x${Math.round(rawHeight)}`;
  else if (rawHeight !== null) resolution = `${Math.round(rawHeight)}p`;
  else if (type === 'audio_only') resolution = 'audio only';
  return {
    format_id: id,
    ext,
    resolution,
    height,
    note: str(format.format_note),
    filesize: estimatedSize(format, duration),
    vcodec,
    acodec,
    quality_label: qualityLabel(height),
    type,
  };
}

function thumbnailOf(info: YtdlpInfo): string | null {
  const direct = str(info.thumbnail);
  if (direct) return direct;
  const list = Array.isArray(info.thumbnails) ? info.thumbnails : [];
  // yt-dlp orders thumbnails worst to best.
  for (let i = list.length - 1; i >= 0; i -= 1) {
    const url = str(list[i]?.url);
    if (url) return url;
  }
  return null;
}

export function mapMeta(info: YtdlpInfo): VideoMeta {
  return {
    id: str(info.id),
    title: str(info.title),
    uploader: str(info.uploader) ?? str(info.channel),
    duration: positive(info.duration) ?? (info.duration === 0 ? 0 : null),
    thumbnail: thumbnailOf(info),
  };
}

/** The client's `{meta, formats}`: storyboards and bad ids left out, ordered by type then height. */
export function mapInfo(info: YtdlpInfo): { meta: VideoMeta; formats: FormatEntry[] } {
  const meta = mapMeta(info);
  const raw = Array.isArray(info.formats) ? info.formats : [];
  const seen = new Set<string>();
  const mapped: { entry: FormatEntry; tbr: number; index: number }[] = [];
  raw.forEach((format, index) => {
    const entry = format && typeof format === 'object' ? mapFormat(format, meta.duration) : null;
    // yt-dlp ids are unique per video; a duplicate would make membership ambiguous, keep the first.
    if (!entry || seen.has(entry.format_id)) return;
    seen.add(entry.format_id);
    mapped.push({ entry, tbr: positive(format.tbr) ?? 0, index });
  });
  mapped.sort(
    (a, b) =>
      TYPE_ORDER[a.entry.type] - TYPE_ORDER[b.entry.type] ||
      b.entry.height - a.entry.height ||
      b.tbr - a.tbr ||
      a.index - b.index,
  );
  return { meta, formats: mapped.map((m) => m.entry) };
}

export function downloadTypeOfFormat(entry: Pick<FormatEntry, 'type'>): DownloadType {
  if (entry.type === 'video+audio') return 'video-audio';
  return entry.type === 'video_only' ? 'video-only' : 'audio-only';
}

/**
 * Whether a format id may be downloaded from this list (SPEC §2 "cached"), and its type:
 * selectors always, `A+B` when both parts are listed, a single id when listed; null otherwise.
 */
export function findFormat(formats: FormatEntry[], id: string): { type: DownloadType } | null {
  if (isSelector(id)) return { type: downloadTypeFromId(id) };
  const ids = parts(id);
  const entries = ids.map((p) => formats.find((f) => f.format_id === p) ?? (isSelector(p) ? 'selector' : null));
  if (entries.some((e) => e === null)) return null;
  if (ids.length > 1) return { type: 'video-audio' };
  const only = entries[0];
  return only && only !== 'selector' ? { type: downloadTypeOfFormat(only) } : null;
}

/** The size in bytes of one yt-dlp format id of `info` (for weighting `A+B` progress), or null. */
export function formatSize(info: YtdlpInfo, formatId: string): number | null {
  const format = (Array.isArray(info.formats) ? info.formats : []).find((f) => f?.format_id === formatId);
  return format ? estimatedSize(format, info.duration) : null;
}
