/**
 * The `format_id` value (SPEC §2): a yt-dlp format id, an `A+B` pair of them, or a selector.
 * Parsed once at the edge; everything after it can pass the id to yt-dlp as one argument.
 */
import type { DownloadType } from '../downloads/job.js';
import { AppError } from '../errors.js';

export type FormatId = string & { readonly __brand: 'FormatId' };

export const FORMAT_SELECTORS = ['best', 'worst', 'bestvideo', 'bestaudio', 'worstvideo', 'worstaudio'] as const;
export type FormatSelector = (typeof FORMAT_SELECTORS)[number];

/** At most this many characters per part, as the SPEC bounds ids. */
export const MAX_FORMAT_PART_LENGTH = 64;
const PART_RE = /^[A-Za-z0-9._-]+$/;

/** The original's well-known YouTube ids whose type is known without the format list. */
const KNOWN_VIDEO_AUDIO = new Set(['18', '22']);
const KNOWN_AUDIO_ONLY = new Set(['139', '140', '171', '172', '249', '250', '251']);

function invalid(reason: string): AppError {
  return new AppError('invalid_request', { fields: { format_id: reason }, detail: `format_id: ${reason}` });
}

/** The reason a single id part is malformed, or null when it is well-formed. */
export function formatPartProblem(part: string): string | null {
  if (part === '') return 'must not have an empty part';
  if (part.length > MAX_FORMAT_PART_LENGTH) return `each part must be at most ${MAX_FORMAT_PART_LENGTH} characters`;
  if (!PART_RE.test(part)) return 'may only contain letters, digits, ".", "_" and "-"';
  return null;
}

/** Validates a client's `format_id`; throws `invalid_request` with a `format_id` field reason. */
export function parseFormatId(input: unknown): FormatId {
  if (input === undefined || input === null) throw invalid('is required');
  if (typeof input !== 'string') throw invalid('must be a string');
  if (input === '') throw invalid('must not be empty');
  const split = input.split('+');
  if (split.length > 2) throw invalid('may combine at most two formats (A+B)');
  for (const part of split) {
    const problem = formatPartProblem(part);
    if (problem) throw invalid(problem);
  }
  return input as FormatId;
}

export function isSelector(id: string): id is FormatSelector {
  return (FORMAT_SELECTORS as readonly string[]).includes(id);
}

/** The one or two format ids of an id (`A+B` → `[A, B]`). */
export function parts(id: FormatId | string): string[] {
  return id.split('+');
}

/** True for an `A+B` id, which yt-dlp downloads as two files and ffmpeg merges. */
export function isMerged(id: FormatId | string): boolean {
  return id.includes('+');
}

/** The download type of an id when the format list is not at hand (SPEC §2 "Not cached"). */
export function downloadTypeFromId(id: FormatId | string): DownloadType {
  if (isMerged(id)) return 'video-audio';
  if (id === 'best' || id === 'worst') return 'video-audio';
  if (id === 'bestvideo' || id === 'worstvideo') return 'video-only';
  if (id === 'bestaudio' || id === 'worstaudio') return 'audio-only';
  if (KNOWN_VIDEO_AUDIO.has(id)) return 'video-audio';
  if (KNOWN_AUDIO_ONLY.has(id)) return 'audio-only';
  return 'video-only';
}
