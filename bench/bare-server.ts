/**
 * The bare baselines, each run as its own process like the service, on 127.0.0.1 and a free port:
 *
 * - `fastify <status.json> <resolutions.json>`: Fastify answering `GET /api/v1/jobs/:id` and
 *   `POST /api/v1/videos/resolutions` with those documents from memory.
 * - `fastify-stack <status.json> <resolutions.json>`: the same behind ultra-dl's HTTP stack (its
 *   error handling, CORS, security headers and server limits), to tell that stack's cost from ours.
 * - `file <path>`: `node:http` + `fs.createReadStream` of one file on every path.
 * - `socketio`: Socket.IO whose `subscribe_job` joins the room, and whose `POST /emit?count&interval`
 *   sends `count` `job_progress` events to that room, `interval` ms apart.
 *
 * Prints `listening <url>` once ready.
 */
import { createReadStream, promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { Server } from 'socket.io';
import { HTTP_SERVER_LIMITS, registerSecurity } from '../src/http/security.js';
import { registerErrorHandling } from '../src/http/error-handler.js';
import { createLogger } from '../src/logger.js';

function announce(server: http.Server): void {
  const { port } = server.address() as AddressInfo;
  console.log(`listening http://127.0.0.1:${port}`);
}

async function fastifyServer(statusFile: string, resolutionsFile: string, stack: boolean): Promise<void> {
  const status = JSON.parse(await fs.readFile(statusFile, 'utf8')) as object;
  const resolutions = JSON.parse(await fs.readFile(resolutionsFile, 'utf8')) as object;
  let app: FastifyInstance;
  if (stack) {
    // The HTTP stack every ultra-dl route has (request loggers, CORS, security headers, limits).
    app = Fastify({ logger: false, ...HTTP_SERVER_LIMITS });
    registerErrorHandling(app, createLogger('warn'));
    registerSecurity(app, { corsOrigins: '*' });
  } else {
    app = Fastify({ logger: false });
  }
  app.get('/api/v1/jobs/:id', async () => status);
  app.post('/api/v1/videos/resolutions', async () => resolutions);
  await app.listen({ port: 0, host: '127.0.0.1' });
  announce(app.server);
}

async function fileServer(file: string): Promise<void> {
  const { size } = await fs.stat(file);
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': String(size) });
    if (req.method === 'HEAD') return void res.end();
    const stream = createReadStream(file);
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  announce(server);
}

async function socketServer(): Promise<void> {
  let room = 'bench';
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'POST' || url.pathname !== '/emit') return void res.writeHead(404).end();
    const count = Number(url.searchParams.get('count') ?? '20');
    const interval = Number(url.searchParams.get('interval') ?? '250');
    let sent = 0;
    const timer = setInterval(() => {
      sent += 1;
      const percentage = Math.round((sent * 100) / count);
      io.to(room).emit('job_progress', {
        job_id: room,
        progress: { percentage, phase: 'downloading', speed: '1.0 MB/s', eta: count - sent },
      });
      if (sent >= count) clearInterval(timer);
    }, interval);
    res.writeHead(202).end();
  });
  const io = new Server(server, { cors: { origin: '*' } });
  io.on('connection', (socket) => {
    socket.on('subscribe_job', (data: { job_id?: string }) => {
      room = data.job_id ?? room;
      void socket.join(room);
      socket.emit('subscribed', { job_id: room, message: 'subscribed' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  announce(server);
}

const [kind, ...args] = process.argv.slice(2);
const started =
  kind === 'fastify' || kind === 'fastify-stack'
    ? fastifyServer(args[0]!, args[1]!, kind === 'fastify-stack')
    : kind === 'file'
      ? fileServer(args[0]!)
      : kind === 'socketio'
        ? socketServer()
        : Promise.reject(new Error(`unknown bare server ${kind}`));
started.catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
process.once('SIGTERM', () => process.exit(0));
