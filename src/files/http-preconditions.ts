/**
 * Validators, conditional requests and byte ranges for the file route (RFC 9110 §8.8, §13, §14),
 * as pure functions of the request headers and the file's size and modification time.
 */
import { createHash } from 'node:crypto';
import type { ByteRange } from '../storage/object-storage.js';

export interface Validators {
  /** Strong entity tag, quoted. */
  etag: string;
  /** IMF-fixdate of the modification time. */
  lastModified: string;
  /** The modification time rounded down to whole seconds, as HTTP dates carry it. */
  lastModifiedSeconds: number;
}

/** A strong ETag from what changes when the content does: the key, the size and the mtime. */
export function validatorsFor(key: string, size: number, mtimeMs: number): Validators {
  const digest = createHash('sha256').update(`${key}\0${size}\0${Math.floor(mtimeMs)}`).digest('base64url');
  const lastModifiedSeconds = Math.floor(mtimeMs / 1000);
  return {
    etag: `"${digest.slice(0, 27)}"`,
    lastModified: new Date(lastModifiedSeconds * 1000).toUTCString(),
    lastModifiedSeconds,
  };
}

function parseHttpDateSeconds(value: string): number | null {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/** The entity tags of an `If-None-Match` list, or `'*'`. */
function entityTags(header: string): string[] | '*' {
  if (header.trim() === '*') return '*';
  return header.match(/(?:W\/)?"[^"]*"/g) ?? [];
}

const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

/**
 * True when a GET/HEAD may be answered 304 (RFC 9110 §13.2.2): `If-None-Match` (weak comparison)
 * decides when present, else `If-Modified-Since`.
 */
export function isNotModified(
  headers: { ifNoneMatch?: string; ifModifiedSince?: string },
  v: Validators,
): boolean {
  if (headers.ifNoneMatch !== undefined) {
    const tags = entityTags(headers.ifNoneMatch);
    return tags === '*' || tags.some((t) => opaque(t) === opaque(v.etag));
  }
  if (headers.ifModifiedSince !== undefined) {
    const since = parseHttpDateSeconds(headers.ifModifiedSince);
    return since !== null && v.lastModifiedSeconds <= since;
  }
  return false;
}

/**
 * True when a `Range` may be applied (RFC 9110 §13.1.5): no `If-Range`, or one that matches with
 * strong comparison (an ETag) or exactly (a date).
 */
export function ifRangeAllows(ifRange: string | undefined, v: Validators): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === v.etag;
  const date = parseHttpDateSeconds(value);
  return date !== null && date === v.lastModifiedSeconds;
}

export type RangeOutcome =
  /** No usable single range: send the whole file with 200. */
  | { kind: 'full' }
  | { kind: 'partial'; range: ByteRange }
  /** A bytes range that cannot be served: 416 with `Content-Range: bytes *\/size`. */
  | { kind: 'unsatisfiable' };

const SINGLE_RANGE = /^(\d*)-(\d*)$/;

/**
 * Interprets a `Range` header against a file of `size` bytes.
 * - Another unit than `bytes` is ignored (200), as RFC 9110 §14.2 allows.
 * - Several ranges are answered with the whole file (200), which §14.2 also allows; a multipart
 *   body would buy little for a single video download.
 * - A `bytes=` header whose single range is malformed (`bytes=x`, `bytes=5-2`, `bytes=-`) or starts
 *   past the end, or any range of an empty file, is unsatisfiable (416).
 */
export function parseRange(header: string | undefined, size: number): RangeOutcome {
  if (header === undefined) return { kind: 'full' };
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return { kind: 'full' };
  const specs = header.slice(eq + 1).split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length > 1) return { kind: 'full' };
  const match = SINGLE_RANGE.exec(specs[0] ?? '');
  if (!match || size === 0) return { kind: 'unsatisfiable' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'unsatisfiable' };
  if (first === '') {
    // Suffix range: the last n bytes.
    const n = Number(last);
    if (n === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', range: { start: Math.max(0, size - n), end: size - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || (last !== '' && Number(last) < start)) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start, end } };
}
