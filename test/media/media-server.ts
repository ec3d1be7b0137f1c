/**
 * A loopback HTTP server of generated test media (SPEC §12), for real yt-dlp runs without internet.
 * Every file route honours single `Range` requests and HEAD, as yt-dlp uses both.
 *
 * Routes (relative to `baseUrl`):
 * - `/video.mp4`                 progressive mp4, video+audio, 640x360, 5 s (~1 MB). yt-dlp's generic
 *                                extractor gives one format, id `mp4`, title `video`.
 * - `/named/<name>.mp4`          the same file; yt-dlp takes the title from `<name>` (unicode titles).
 * - `/dash/manifest.mpd`         DASH: video-only `video-144p`, `video-240p`, `video-360p` (h264) and
 *                                audio-only `audio` (aac), 4 s; generic title `manifest`.
 * - `/slow/video.mp4`            the progressive file throttled to `slowBytesPerSecond` (~5 s).
 * - `/slow/dash/manifest.mpd`    the DASH set with throttled media (a merge lasts several seconds).
 * - `/error/404`, `/error/403`, `/error/429`, `/error/500`
 *                                that status on extraction; yt-dlp prints
 *                                `ERROR: [generic] Unable to download webpage: HTTP Error 404: Not Found`
 *                                (403 Forbidden, 429 Too Many Requests, 500 Internal Server Error).
 * - `/error/reset`               destroys the socket without answering; yt-dlp prints
 *                                `ERROR: [generic] Unable to download webpage: Remote end closed connection without response`.
 * - `/error/dash-403/manifest.mpd`, `/error/dash-reset/manifest.mpd`
 *                                a valid manifest whose media answer 403 / reset: extraction works and
 *                                the download fails.
 * - `/large/<bytes>.mp4`         a valid mp4 of exactly `<bytes>` bytes (the progressive file plus a
 *                                trailing `free` box of zeros), generated on the fly: for benchmarks.
 */
import { createReadStream, promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ensureFixtures, FIXTURE_FILES } from './media-fixtures.js';

export interface MediaServer {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  close(): Promise<void>;
  /** Requests served so far (every route, HEAD included). */
  readonly requests: number;
}

export interface MediaServerOptions {
  fixturesDir?: string;
  /** Throughput of the `/slow/` routes; 200 KB/s makes the progressive file last ~5 s. */
  slowBytesPerSecond?: number;
}

const DEFAULT_SLOW_BYTES_PER_SECOND = 200 * 1024;
/** The throttle sends this many slices per second, so progress moves smoothly. */
const THROTTLE_TICKS_PER_SECOND = 10;

const CONTENT_TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.mpd': 'application/dash+xml',
};

const STATUS_ROUTES: Record<string, number> = {
  '/error/404': 404,
  '/error/403': 403,
  '/error/429': 429,
  '/error/500': 500,
};

interface Body {
  size: number;
  /** Bytes [start, end] inclusive. */
  open(start: number, end: number): Readable;
}

function fileBody(file: string, size: number): Body {
  return { size, open: (start, end) => createReadStream(file, { start, end }) };
}

/** The progressive mp4 followed by one `free` box padding it to `total` bytes. */
function largeBody(base: Buffer, total: number): Body {
  const padHeader = Buffer.alloc(16);
  // A 64-bit box size (size field 1 + largesize) keeps files over 4 GiB valid.
  padHeader.writeUInt32BE(1, 0);
  padHeader.write('free', 4, 'latin1');
  padHeader.writeBigUInt64BE(BigInt(total - base.length), 8);
  const head = Buffer.concat([base, padHeader]);
  const zeros = Buffer.alloc(64 * 1024);
  return {
    size: total,
    open(start, end) {
      let pos = start;
      return new Readable({
        read() {
          if (pos > end) return void this.push(null);
          let chunk: Buffer;
          if (pos < head.length) chunk = head.subarray(pos, Math.min(head.length, end + 1));
          else chunk = zeros.subarray(0, Math.min(zeros.length, end + 1 - pos));
          pos += chunk.length;
          this.push(chunk);
        },
      });
    },
  };
}

function throttle(source: Readable, bytesPerSecond: number): Readable {
  const slice = Math.max(1, Math.floor(bytesPerSecond / THROTTLE_TICKS_PER_SECOND));
  const iterator = source[Symbol.asyncIterator]();
  let pending = Buffer.alloc(0);
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const out = new Readable({
    read() {
      if (timer) return;
      timer = setTimeout(async () => {
        timer = undefined;
        try {
          while (pending.length < slice && !done) {
            const next = await iterator.next();
            if (next.done) done = true;
            else pending = Buffer.concat([pending, next.value as Buffer]);
          }
          const chunk = pending.subarray(0, slice);
          pending = pending.subarray(slice);
          if (chunk.length > 0) out.push(chunk);
          if (done && pending.length === 0) out.push(null);
        } catch (err) {
          out.destroy(err as Error);
        }
      }, 1000 / THROTTLE_TICKS_PER_SECOND);
    },
    destroy(err, cb) {
      clearTimeout(timer);
      source.destroy();
      cb(err);
    },
  });
  return out;
}

function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return [start, end];
}

function sendBody(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  body: Body,
  contentType: string,
  bytesPerSecond: number | null,
): void {
  const range = parseRange(req.headers.range, body.size);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Type', contentType);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'Content-Range': `bytes */${body.size}` }).end();
    return;
  }
  const [start, end] = range ?? [0, body.size - 1];
  if (range) {
    res.statusCode = 206;
    res.setHeader('Content-Range', `bytes ${start}-${end}/${body.size}`);
  }
  res.setHeader('Content-Length', String(end - start + 1));
  if (req.method === 'HEAD' || body.size === 0) {
    res.end();
    return;
  }
  let stream = body.open(start, end);
  if (bytesPerSecond !== null) stream = throttle(stream, bytesPerSecond);
  res.on('close', () => stream.destroy());
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/** A copy of the DASH manifest whose media URLs point at `mediaPath` (an error route). */
function brokenManifest(manifest: string, mediaPath: string): string {
  return manifest.replace(/<BaseURL>[^<]*<\/BaseURL>/g, `<BaseURL>${mediaPath}</BaseURL>`);
}

/** Starts the media server on 127.0.0.1 and a free port; generates the fixtures if needed. */
export async function startMediaServer(opts: MediaServerOptions = {}): Promise<MediaServer> {
  const dir = opts.fixturesDir ?? (await ensureFixtures());
  const slowRate = opts.slowBytesPerSecond ?? DEFAULT_SLOW_BYTES_PER_SECOND;
  const manifest = await fs.readFile(path.join(dir, FIXTURE_FILES.manifest), 'utf8');
  const progressive = await fs.readFile(path.join(dir, FIXTURE_FILES.progressive));
  let requests = 0;

  async function serveFile(req: http.IncomingMessage, res: http.ServerResponse, rel: string, rate: number | null) {
    // Only names from the fixture set, so no request path reaches the filesystem unchecked.
    if (!/^(dash\/)?[a-z0-9-]+\.(mp4|m4a|mpd)$/.test(rel)) return notFound(res);
    const file = path.join(dir, rel);
    const stat = await fs.stat(file).catch(() => null);
    if (!stat?.isFile()) return notFound(res);
    sendBody(req, res, fileBody(file, stat.size), CONTENT_TYPES[path.extname(rel)] ?? 'application/octet-stream', rate);
  }

  const server = http.createServer((req, res) => {
    requests += 1;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const p = decodeURIComponent(url.pathname);
    const status = STATUS_ROUTES[p];
    const handle = async () => {
      if (status) {
        res.writeHead(status, { 'Content-Type': 'text/plain' }).end(`${status}\n`);
      } else if (p === '/error/reset') {
        req.socket.destroy();
      } else if (p === '/error/dash-403/manifest.mpd') {
        res.writeHead(200, { 'Content-Type': CONTENT_TYPES['.mpd'] }).end(brokenManifest(manifest, '/error/403'));
      } else if (p === '/error/dash-reset/manifest.mpd') {
        res.writeHead(200, { 'Content-Type': CONTENT_TYPES['.mpd'] }).end(brokenManifest(manifest, '/error/reset'));
      } else if (p.startsWith('/named/') && p.endsWith('.mp4')) {
        sendBody(req, res, fileBody(path.join(dir, FIXTURE_FILES.progressive), progressive.length), 'video/mp4', null);
      } else if (/^\/large\/\d+\.mp4$/.test(p)) {
        const total = Number(p.slice('/large/'.length, -'.mp4'.length));
        if (!Number.isSafeInteger(total) || total < progressive.length + 16) return notFound(res);
        sendBody(req, res, largeBody(progressive, total), 'video/mp4', null);
      } else if (p.startsWith('/slow/')) {
        await serveFile(req, res, p.slice('/slow/'.length), slowRate);
      } else {
        await serveFile(req, res, p.slice(1), null);
      }
    };
    handle().catch(() => res.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function notFound(res: http.ServerResponse): void {
  res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404\n');
}

/** The URL of a `/large/<bytes>.mp4` file of exactly `bytes` bytes on `server`. */
export function largeFixtureUrl(server: Pick<MediaServer, 'baseUrl'>, bytes: number): string {
  return `${server.baseUrl}/large/${bytes}.mp4`;
}
