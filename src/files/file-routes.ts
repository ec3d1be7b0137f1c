/**
 * `GET|HEAD /api/v1/downloads/file/:token` (SPEC §2 Token): streams a local file with validators,
 * ranges and conditional requests, or redirects to a signed URL for a file kept in GCS.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../errors.js';
import type { ObjectMeta, ObjectStat, ObjectStorage } from '../storage/object-storage.js';
import type { TokenRecord, TokenStore } from '../store/token-store.js';
import { attachmentDisposition } from './content-disposition.js';
import { ifRangeAllows, isNotModified, parseRange, validatorsFor } from './http-preconditions.js';
import type { Validators } from './http-preconditions.js';
import { FILE_TOKEN_PATTERN } from './token.js';

export interface FileRouteDeps {
  tokens: Pick<TokenStore, 'resolve'>;
  /** The storage holding files of that kind here, or null when it is not configured. */
  storageFor(kind: 'local' | 'gcs'): ObjectStorage | null;
  signedUrlTtlSeconds: number;
  /** FILE_TTL_MINUTES, quoted by the 410 message. */
  fileTtlMinutes: number;
  clock?: () => number;
}

export const FILE_ROUTE_PATH = '/api/v1/downloads/file/:token';

/**
 * The link is a bearer secret that lives minutes: browsers may keep nothing, shared caches even
 * less. Validators are still sent, so download managers can resume with `If-Range`.
 */
const CACHE_CONTROL = 'private, no-store';
const FALLBACK_CONTENT_TYPE = 'application/octet-stream';

const paramsSchema = Type.Object({
  token: Type.String({ pattern: FILE_TOKEN_PATTERN, description: 'The file token of a completed job' }),
});

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

async function resolveRecord(deps: FileRouteDeps, token: string, now: number): Promise<TokenRecord> {
  const lookup = await deps.tokens.resolve(token, now);
  if (lookup.state === 'expired') throw new AppError('file_expired', { vars: { minutes: deps.fileTtlMinutes } });
  if (lookup.state === 'unknown') throw new AppError('file_not_found');
  return lookup.record;
}

function storageOf(deps: FileRouteDeps, record: TokenRecord): ObjectStorage {
  const storage = deps.storageFor(record.file.storage);
  if (!storage) {
    // The file exists somewhere this process cannot reach: a deployment fault, not the client's.
    throw new AppError('system_error', {
      status: 503,
      detail: `storage ${record.file.storage} is not configured for ${record.file.key}`,
    });
  }
  return storage;
}

// type/subtype with optional parameters, in header-safe characters only.
const CONTENT_TYPE_PATTERN = /^[\w.+-]+\/[\w.+-]+(?:\s*;\s*[\w.+-]+=(?:[\w.+-]+|"[^"\\\r\n]*"))*$/;

function metaOf(record: TokenRecord): ObjectMeta {
  const declared = record.file.contentType;
  // A type that would not survive as a header must not turn a good download into a 500.
  const contentType = CONTENT_TYPE_PATTERN.test(declared) ? declared : FALLBACK_CONTENT_TYPE;
  return { contentType, downloadName: record.file.name };
}

function setEntityHeaders(reply: FastifyReply, v: Validators): void {
  reply.header('Cache-Control', CACHE_CONTROL);
  reply.header('ETag', v.etag);
  reply.header('Last-Modified', v.lastModified);
  reply.header('Accept-Ranges', 'bytes');
}

async function serveLocal(
  request: FastifyRequest,
  reply: FastifyReply,
  storage: ObjectStorage,
  record: TokenRecord,
  info: ObjectStat,
): Promise<FastifyReply> {
  const v = validatorsFor(record.file.key, info.size, info.mtimeMs);
  const ifNoneMatch = header(request, 'if-none-match');
  const ifModifiedSince = header(request, 'if-modified-since');
  if (isNotModified({ ifNoneMatch, ifModifiedSince }, v)) {
    setEntityHeaders(reply, v);
    return reply.code(304).send();
  }

  const rangeHeader = ifRangeAllows(header(request, 'if-range'), v) ? header(request, 'range') : undefined;
  const outcome = parseRange(rangeHeader, info.size);
  if (outcome.kind === 'unsatisfiable') {
    throw new AppError('invalid_request', {
      status: 416,
      headers: { 'Content-Range': `bytes */${info.size}`, 'Accept-Ranges': 'bytes' },
      fields: { range: 'is not satisfiable' },
    });
  }

  const range = outcome.kind === 'partial' ? outcome.range : undefined;
  // Opened before any header is set, so a file vanishing now still gets a clean error response.
  // HEAD opens nothing; an empty file has no byte a stream could read.
  const body = request.method === 'HEAD' || info.size === 0 ? null : await storage.open(record.file.key, range);

  const meta = metaOf(record);
  setEntityHeaders(reply, v);
  reply.header('Content-Type', meta.contentType);
  reply.header('Content-Disposition', attachmentDisposition(meta.downloadName));
  reply.header('X-Content-Type-Options', 'nosniff');
  if (range) {
    reply.code(206);
    reply.header('Content-Range', `bytes ${range.start}-${range.end}/${info.size}`);
    reply.header('Content-Length', String(range.end - range.start + 1));
  } else {
    reply.code(200);
    reply.header('Content-Length', String(info.size));
  }
  if (body) return reply.send(body);
  return request.method === 'HEAD' ? reply.send() : reply.send('');
}

/** Registers GET and HEAD of the token link; errors are AppErrors for the app's error handler. */
export function registerFileRoutes(app: FastifyInstance, deps: FileRouteDeps): void {
  const clock = deps.clock ?? Date.now;

  app.route({
    method: ['GET', 'HEAD'],
    url: FILE_ROUTE_PATH,
    // HEAD is served by this handler itself, without opening the file.
    exposeHeadRoute: false,
    schema: {
      summary: 'Download the file of a completed job through its short-lived token',
      tags: ['downloads'],
      params: paramsSchema,
    },
    handler: async (request, reply) => {
      const { token } = request.params as { token: string };
      const now = clock();
      const record = await resolveRecord(deps, token, now);
      const storage = storageOf(deps, record);
      const info = await storage.stat(record.file.key);
      if (!info) throw new AppError('file_not_found', { detail: `object ${record.file.key} is gone` });

      if (record.file.storage === 'gcs') {
        const expiresAt = Math.min(now + deps.signedUrlTtlSeconds * 1000, record.expiresAt);
        const url = await storage.signedUrl(record.file.key, expiresAt, metaOf(record));
        if (url) {
          reply.header('Cache-Control', CACHE_CONTROL);
          return reply.redirect(url, 302);
        }
      }
      return serveLocal(request, reply, storage, record, info);
    },
  });
}
