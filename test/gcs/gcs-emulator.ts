/**
 * An in-process stand-in for the Cloud Storage JSON API, implementing exactly the calls the GCS
 * adapter makes (multipart and chunked resumable upload, object metadata, media download with
 * Range, delete, list by prefix, bucket metadata) plus serving V4 signed URLs, which it verifies
 * cryptographically. Objects live in a temp dir, never in memory, so gigabyte uploads work. Any other
 * call answers 501 and is recorded in `unhandled`, so a test notices the adapter straying.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { verifyV4SignedUrl, type VerifyOptions } from './signed-url-verifier.js';

interface ObjectResource {
  kind: 'storage#object';
  id: string;
  name: string;
  bucket: string;
  generation: string;
  metageneration: string;
  contentType: string;
  contentDisposition?: string;
  size: string;
  md5Hash: string;
  timeCreated: string;
  updated: string;
  storageClass: string;
}

interface Session {
  bucket: string;
  name: string;
  meta: Record<string, unknown>;
  contentType: string;
  received: number;
  file: string;
}

export interface GcsEmulatorOptions {
  buckets: string[];
  /** When given, signed URLs are served after verifying them against this key. */
  signer?: Omit<VerifyOptions, 'method'>;
}

export interface GcsEmulator {
  /** `http://127.0.0.1:<port>`, for the adapter's `apiEndpoint` or `STORAGE_EMULATOR_HOST`. */
  readonly endpoint: string;
  /** One line per handled call, e.g. `upload:multipart`, `upload:chunk`, `object:media`. */
  readonly calls: string[];
  /** Calls the emulator does not implement. */
  readonly unhandled: string[];
  /** The buckets that exist; a test may remove one to make it vanish. */
  readonly buckets: Set<string>;
  /** While set, every upload call answers with this status (e.g. 503), as a broken bucket would. */
  failUploads: number | null;
  objectNames(bucket: string): Promise<string[]>;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason = 'invalid',
  ) {
    super(message);
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': data.length, ...headers });
  res.end(data);
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function md5Of(file: string): Promise<string> {
  const hash = createHash('md5');
  await pipeline(createReadStream(file), hash);
  return hash.digest('base64');
}

async function readSlice(file: string, position: number, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

export async function startGcsEmulator(options: GcsEmulatorOptions): Promise<GcsEmulator> {
  const root = await mkdtemp(path.join(tmpdir(), 'gcs-emulator-'));
  const objectsDir = path.join(root, 'objects');
  const incomingDir = path.join(root, 'incoming');
  await mkdir(objectsDir);
  await mkdir(incomingDir);
  const buckets = new Set(options.buckets);
  const sessions = new Map<string, Session>();
  let generation = Date.now() * 1000;

  const objectPath = (bucket: string, name: string): string =>
    path.join(objectsDir, createHash('sha256').update(`${bucket}\0${name}`).digest('hex'));

  function requireBucket(bucket: string): void {
    if (!buckets.has(bucket)) throw new HttpError(404, 'The specified bucket does not exist.', 'notFound');
  }

  async function readMeta(bucket: string, name: string): Promise<ObjectResource> {
    requireBucket(bucket);
    try {
      return JSON.parse(await readFile(`${objectPath(bucket, name)}.json`, 'utf8')) as ObjectResource;
    } catch {
      throw new HttpError(404, `No such object: ${bucket}/${name}`, 'notFound');
    }
  }

  /** Moves a fully received upload into place, replacing any previous generation. */
  async function commit(bucket: string, name: string, file: string, meta: Record<string, unknown>, contentType: string) {
    const size = (await stat(file)).size;
    const now = new Date().toISOString();
    generation += 1;
    const resource: ObjectResource = {
      kind: 'storage#object',
      id: `${bucket}/${name}/${generation}`,
      name,
      bucket,
      generation: String(generation),
      metageneration: '1',
      contentType: String(meta.contentType ?? contentType ?? 'application/octet-stream'),
      ...(typeof meta.contentDisposition === 'string' ? { contentDisposition: meta.contentDisposition } : {}),
      size: String(size),
      md5Hash: await md5Of(file),
      timeCreated: now,
      updated: now,
      storageClass: 'STANDARD',
    };
    const target = objectPath(bucket, name);
    await rename(file, target);
    await writeFile(`${target}.json`, JSON.stringify(resource));
    return resource;
  }

  async function multipartUpload(req: http.IncomingMessage, bucket: string, name: string) {
    const boundary = /boundary=("?)([^";]+)\1/.exec(req.headers['content-type'] ?? '')?.[2];
    if (!boundary) throw new HttpError(400, 'multipart upload without a boundary');
    const raw = path.join(incomingDir, randomUUID());
    const media = `${raw}.media`;
    try {
      await pipeline(req, createWriteStream(raw));
      const total = (await stat(raw)).size;
      // The metadata part is small and first; the media part runs up to the closing delimiter.
      const head = (await readSlice(raw, 0, 64 * 1024)).toString('latin1');
      const delimiter = `--${boundary}\r\n`;
      const jsonStart = head.indexOf('\r\n\r\n', head.indexOf(delimiter)) + 4;
      const jsonEnd = head.indexOf(`\r\n${delimiter}`, jsonStart);
      const mediaStart = head.indexOf('\r\n\r\n', jsonEnd + 2) + 4;
      const partType = /content-type: *([^\r\n]+)/i.exec(head.slice(jsonEnd, mediaStart))?.[1] ?? '';
      const closing = `\r\n--${boundary}--`;
      const tail = (await readSlice(raw, Math.max(0, total - closing.length - 2), closing.length + 2)).toString('latin1');
      const mediaEnd = total - (tail.length - tail.lastIndexOf(closing));
      if (jsonStart < 4 || jsonEnd < 0 || mediaStart < 4 || !tail.includes(closing) || mediaEnd < mediaStart) {
        throw new HttpError(400, 'malformed multipart body');
      }
      const meta = JSON.parse(head.slice(jsonStart, jsonEnd)) as Record<string, unknown>;
      if (mediaEnd > mediaStart) await pipeline(createReadStream(raw, { start: mediaStart, end: mediaEnd - 1 }), createWriteStream(media));
      else await writeFile(media, '');
      return await commit(bucket, name, media, meta, partType);
    } finally {
      await rm(raw, { force: true });
      await rm(media, { force: true });
    }
  }

  async function startSession(req: http.IncomingMessage, res: http.ServerResponse, bucket: string, name: string) {
    const body = await readBody(req);
    const meta = body.length > 0 ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
    const id = randomUUID();
    const file = path.join(incomingDir, id);
    await writeFile(file, '');
    const contentType = String(req.headers['x-upload-content-type'] ?? meta.contentType ?? 'application/octet-stream');
    sessions.set(id, { bucket, name, meta, contentType, received: 0, file });
    const location = `${emulator.endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
    sendJson(res, 200, {}, { location });
  }

  /** One `PUT` of a resumable session: `bytes a-b/total`, `bytes a-b/*`, `bytes a-*\/…` or `bytes *\/…`. */
  async function uploadChunk(req: http.IncomingMessage, res: http.ServerResponse, id: string) {
    const session = sessions.get(id);
    if (!session) throw new HttpError(404, 'No such upload session', 'notFound');
    const m = /^bytes (?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/.exec(String(req.headers['content-range'] ?? ''));
    if (!m) throw new HttpError(400, `bad Content-Range ${req.headers['content-range']}`);
    const [, first, last, totalText] = m;
    if (first !== undefined) {
      if (Number(first) !== session.received) throw new HttpError(400, `chunk starts at ${first}, have ${session.received}`);
      await pipeline(req, createWriteStream(session.file, { flags: 'a' }));
      session.received = (await stat(session.file)).size;
      if (last !== '*' && session.received !== Number(last) + 1) throw new HttpError(400, 'chunk length differs from its range');
    } else {
      await readBody(req);
    }
    // A chunk without an end (`a-*`) carries the rest of the object; a known total ends it too.
    const complete = last === '*' || (totalText !== '*' && session.received === Number(totalText));
    if (!complete) {
      res.writeHead(308, session.received > 0 ? { range: `bytes=0-${session.received - 1}`, 'content-length': 0 } : { 'content-length': 0 });
      res.end();
      return;
    }
    sessions.delete(id);
    sendJson(res, 200, await commit(session.bucket, session.name, session.file, session.meta, session.contentType));
  }

  async function sendMedia(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    resource: ObjectResource,
    extraHeaders: http.OutgoingHttpHeaders = {},
  ) {
    const size = Number(resource.size);
    const headers: http.OutgoingHttpHeaders = {
      'content-type': resource.contentType,
      'x-goog-hash': `md5=${resource.md5Hash}`,
      'x-goog-stored-content-encoding': 'identity',
      'x-goog-generation': resource.generation,
      ...(resource.contentDisposition ? { 'content-disposition': resource.contentDisposition } : {}),
      ...extraHeaders,
    };
    const file = objectPath(resource.bucket, resource.name);
    const range = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range ?? ''));
    if (!range || (range[1] === '' && range[2] === '')) {
      res.writeHead(200, { ...headers, 'content-length': size });
      if (req.method === 'HEAD' || size === 0) return void res.end();
      return pipeline(createReadStream(file), res);
    }
    const start = range[1] === '' ? Math.max(0, size - Number(range[2])) : Number(range[1]);
    const end = range[1] === '' || range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
    if (start > end || start >= size) {
      res.writeHead(416, { 'content-range': `bytes */${size}`, 'content-length': 0 });
      return void res.end();
    }
    res.writeHead(206, { ...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}` });
    return pipeline(createReadStream(file, { start, end }), res);
  }

  async function listObjects(bucket: string, url: URL) {
    requireBucket(bucket);
    const prefix = url.searchParams.get('prefix') ?? '';
    const names = (await emulator.objectNames(bucket)).filter((n) => n.startsWith(prefix));
    const maxResults = Number(url.searchParams.get('maxResults') ?? 1000);
    const from = Number(url.searchParams.get('pageToken') ?? 0);
    const page = names.slice(from, from + maxResults);
    const items = await Promise.all(page.map((n) => readMeta(bucket, n)));
    const next = from + maxResults < names.length ? { nextPageToken: String(from + maxResults) } : {};
    return { kind: 'storage#objects', items, ...next };
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', emulator.endpoint);
    // With `STORAGE_EMULATOR_HOST=<endpoint>` the client drops the `/storage/v1` of JSON API paths.
    const p = url.pathname.startsWith('/b/') ? `/storage/v1${url.pathname}` : url.pathname;
    const method = req.method ?? 'GET';
    let m: RegExpExecArray | null;

    if ((m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(p))) {
      const bucket = decodeURIComponent(m[1]!);
      if (emulator.failUploads !== null) {
        await readBody(req).catch(() => undefined);
        // Names the object, as real errors may, so tests see whether it leaks into health.
        throw new HttpError(emulator.failUploads, `upload of ${url.searchParams.get('name') ?? '?'} refused by the test`, 'backendError');
      }
      requireBucket(bucket);
      const uploadId = url.searchParams.get('upload_id');
      const uploadType = url.searchParams.get('uploadType');
      const name = url.searchParams.get('name');
      if (method === 'PUT' && uploadId) {
        emulator.calls.push('upload:chunk');
        return uploadChunk(req, res, uploadId);
      }
      if (method === 'POST' && name && uploadType === 'multipart') {
        emulator.calls.push('upload:multipart');
        return sendJson(res, 200, await multipartUpload(req, bucket, name));
      }
      if (method === 'POST' && name && uploadType === 'resumable') {
        emulator.calls.push('upload:resumable');
        return startSession(req, res, bucket, name);
      }
    } else if ((m = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(p))) {
      const bucket = decodeURIComponent(m[1]!);
      const name = decodeURIComponent(m[2]!);
      if (method === 'GET' && url.searchParams.get('alt') === 'media') {
        emulator.calls.push('object:media');
        return sendMedia(req, res, await readMeta(bucket, name));
      }
      if (method === 'GET') {
        emulator.calls.push('object:metadata');
        return sendJson(res, 200, await readMeta(bucket, name));
      }
      if (method === 'DELETE') {
        emulator.calls.push('object:delete');
        await readMeta(bucket, name);
        const file = objectPath(bucket, name);
        await rm(`${file}.json`, { force: true });
        await rm(file, { force: true });
        res.writeHead(204).end();
        return;
      }
    } else if ((m = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(p)) && method === 'GET') {
      emulator.calls.push('objects:list');
      return sendJson(res, 200, await listObjects(decodeURIComponent(m[1]!), url));
    } else if ((m = /^\/storage\/v1\/b\/([^/]+)$/.exec(p)) && method === 'GET') {
      emulator.calls.push('bucket:metadata');
      const bucket = decodeURIComponent(m[1]!);
      requireBucket(bucket);
      return sendJson(res, 200, { kind: 'storage#bucket', id: bucket, name: bucket, location: 'US' });
    } else if (options.signer && url.searchParams.has('X-Goog-Signature') && (method === 'GET' || method === 'HEAD')) {
      emulator.calls.push('signed:get');
      return serveSigned(req, res);
    }
    emulator.unhandled.push(`${method} ${p}${url.search}`);
    throw new HttpError(501, `not implemented by the emulator: ${method} ${p}`, 'notImplemented');
  }

  async function serveSigned(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let grant;
    try {
      grant = verifyV4SignedUrl(new URL(req.url ?? '/', emulator.endpoint).href, { ...options.signer!, method: 'GET' });
    } catch (err) {
      throw new HttpError(403, `SignatureDoesNotMatch: ${(err as Error).message}`, 'forbidden');
    }
    const now = Date.now();
    if (now >= grant.expiresAt || now < grant.signedAt - 60_000) throw new HttpError(400, 'ExpiredToken', 'expired');
    const disposition = grant.query['response-content-disposition'];
    const type = grant.query['response-content-type'];
    return sendMedia(req, res, await readMeta(grant.bucket, grant.object), {
      ...(disposition ? { 'content-disposition': disposition } : {}),
      ...(type ? { 'content-type': type } : {}),
    });
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const reason = err instanceof HttpError ? err.reason : 'backendError';
      const message = err instanceof Error ? err.message : String(err);
      req.resume();
      if (res.headersSent) return void res.destroy();
      sendJson(res, status, { error: { code: status, message, errors: [{ message, domain: 'global', reason }] } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const emulator: GcsEmulator = {
    endpoint: `http://127.0.0.1:${port}`,
    buckets,
    calls: [],
    unhandled: [],
    failUploads: null,
    async objectNames(bucket) {
      const names: string[] = [];
      for (const entry of await readdir(objectsDir)) {
        if (!entry.endsWith('.json')) continue;
        const resource = JSON.parse(await readFile(path.join(objectsDir, entry), 'utf8')) as ObjectResource;
        if (resource.bucket === bucket) names.push(resource.name);
      }
      return names.sort();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(root, { recursive: true, force: true });
    },
  };
  return emulator;
}
