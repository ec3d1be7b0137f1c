/**
 * The Socket.IO gateway of SPEC §4: rooms per job, replay of the current state on subscribe,
 * cancel, ping. It is the only module that touches Socket.IO; services publish through the
 * EventBus port and the gateway forwards each event to room `<job_id>`.
 */
import type http from 'node:http';
import type { Logger } from 'pino';
import { Server, type ServerOptions, type Socket } from 'socket.io';
import { cancelledEvent } from '../downloads/job-view.js';
import type { EventBus, JobEvent, JobEventName } from '../events/event-bus.js';
import { createApiKeyCheck, unauthorizedError } from './socket-api-key.js';
import {
  JOB_EVENT_NAMES,
  MESSAGES,
  parseJobId,
  type ClientToServerEvents,
  type ServerToClientEvents,
} from './socket-events.js';

/** Client messages are a job id and some framing; 16 KiB leaves room and bounds memory per socket. */
const MAX_MESSAGE_BYTES = 16 * 1024;
/** A page follows a handful of jobs; more rooms per socket only cost server memory. */
export const MAX_ROOMS_PER_SOCKET = 100;

export interface SocketGatewayDeps {
  /** The HTTP server Fastify answers on (`app.server`); the gateway never closes it. */
  httpServer: http.Server;
  /** Events to forward to rooms, or null when a Socket.IO adapter (Redis) delivers them. */
  events: Pick<EventBus, 'subscribe'> | null;
  /** The job's current state as an event, or null if the job is unknown. */
  replay(jobId: string): Promise<JobEvent | null>;
  /** True if the job was cancelled, false if there is no such job. */
  cancelJob(jobId: string): Promise<boolean>;
  corsOrigins: string[] | '*';
  /** Empty means open: any handshake is accepted. */
  apiKeys: string[];
  logger: Logger;
  adapter?: ServerOptions['adapter'];
}

type GatewaySocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** What both a socket and a room broadcast can emit. */
interface JobEventTarget {
  emit<K extends keyof ServerToClientEvents>(
    name: K,
    ...args: Parameters<ServerToClientEvents[K]>
  ): unknown;
}

function emitJobEvent(target: JobEventTarget, event: JobEvent): void {
  switch (event.name) {
    case 'job_progress':
      target.emit('job_progress', event.payload);
      break;
    case 'job_completed':
      target.emit('job_completed', event.payload);
      break;
    case 'job_failed':
      target.emit('job_failed', event.payload);
      break;
    case 'job_cancelled':
      target.emit('job_cancelled', event.payload);
      break;
  }
}

/**
 * Notes whether a job event for `jobId` reaches this socket while an async step runs. It sees
 * room broadcasts too (whichever adapter delivers them), so a reply can tell it has been overtaken.
 */
function watchJobEvents(socket: GatewaySocket, jobId: string, names: ReadonlySet<string>) {
  const watch = { seen: false, stop: () => socket.offAnyOutgoing(listener) };
  const listener = (name: string, payload: unknown): void => {
    if (!names.has(name) || typeof payload !== 'object' || payload === null) return;
    if ((payload as { job_id?: unknown }).job_id === jobId) watch.seen = true;
  };
  socket.onAnyOutgoing(listener);
  return watch;
}

const CANCELLED_ONLY: ReadonlySet<JobEventName> = new Set<JobEventName>(['job_cancelled']);

export function createSocketGateway(deps: SocketGatewayDeps) {
  const logger = deps.logger;
  const hasKey = createApiKeyCheck(deps.apiKeys);

  const io = new Server<ClientToServerEvents, ServerToClientEvents>(deps.httpServer, {
    path: '/socket.io/',
    serveClient: false,
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    // `*` answers any origin and, as with the REST API, never allows credentials.
    cors: { origin: deps.corsOrigins === '*' ? '*' : deps.corsOrigins, credentials: false },
    ...(deps.adapter ? { adapter: deps.adapter } : {}),
  });

  // Synchronous and I/O-free on purpose: a handshake must never hold up the event loop.
  io.use((socket, next) => {
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    if (hasKey({ headers: socket.handshake.headers, auth })) return next();
    logger.debug({ clientId: socket.id }, 'socket handshake refused: no valid API key');
    next(unauthorizedError());
  });

  function emit(event: JobEvent): void {
    emitJobEvent(io.to(event.payload.job_id), event);
  }

  async function subscribe(socket: GatewaySocket, payload: unknown): Promise<void> {
    const jobId = parseJobId(payload);
    if (jobId === null) {
      socket.emit('error', { message: MESSAGES.missingJobId });
      return;
    }
    // Every socket sits in its own id room, which is not a subscription.
    if (!socket.rooms.has(jobId) && socket.rooms.size - 1 >= MAX_ROOMS_PER_SOCKET) {
      socket.emit('error', { job_id: jobId, message: MESSAGES.tooManySubscriptions(MAX_ROOMS_PER_SOCKET) });
      return;
    }
    // Join before reading the state: whatever is published after the read then reaches the
    // socket live, so no event falls between the replay and the room.
    const live = watchJobEvents(socket, jobId, JOB_EVENT_NAMES);
    let state: JobEvent | null;
    try {
      // The in-memory adapter joins synchronously; not awaiting it then keeps the replies in the
      // order of the client's messages (a `ping` after `subscribe_job` gets `pong` after `subscribed`).
      const joining = socket.join(jobId);
      if (joining) await joining;
      socket.emit('subscribed', { job_id: jobId, message: MESSAGES.subscribed(jobId) });
      state = await deps.replay(jobId);
    } catch (err) {
      logger.warn({ err, jobId, clientId: socket.id }, 'socket subscribe failed');
      socket.emit('error', { job_id: jobId, message: MESSAGES.replayFailed });
      return;
    } finally {
      live.stop();
    }
    if (!socket.connected) return;
    // Every state change is stored before it is published, so a live event that arrived during
    // the read is at least as new as what was read: replaying would step the client backwards.
    if (state === null) {
      await socket.leave(jobId);
      if (!live.seen) socket.emit('error', { job_id: jobId, message: MESSAGES.jobNotFound });
      return;
    }
    if (!live.seen) emitJobEvent(socket, state);
  }

  async function unsubscribe(socket: GatewaySocket, payload: unknown): Promise<void> {
    const jobId = parseJobId(payload);
    if (jobId === null) {
      socket.emit('error', { message: MESSAGES.missingJobId });
      return;
    }
    const leaving = socket.leave(jobId);
    if (leaving) await leaving;
    socket.emit('unsubscribed', { job_id: jobId, message: MESSAGES.unsubscribed(jobId) });
  }

  async function cancel(socket: GatewaySocket, payload: unknown): Promise<void> {
    const jobId = parseJobId(payload);
    if (jobId === null) {
      socket.emit('error', { message: MESSAGES.missingJobId });
      return;
    }
    // A subscribed canceller may already have the room's job_cancelled (the service publishes it
    // while cancelling); it then gets no second copy. When the room copy arrives only later
    // (through Redis), the canceller is told now and may see the same payload twice.
    const roomCopy = watchJobEvents(socket, jobId, CANCELLED_ONLY);
    let cancelled: boolean;
    try {
      cancelled = await deps.cancelJob(jobId);
    } catch (err) {
      logger.warn({ err, jobId, clientId: socket.id }, 'socket cancel failed');
      socket.emit('error', { job_id: jobId, message: MESSAGES.cancelFailed });
      return;
    } finally {
      roomCopy.stop();
    }
    if (!cancelled) {
      socket.emit('error', { message: MESSAGES.jobNotFound, job_id: jobId });
      return;
    }
    if (!roomCopy.seen) emitJobEvent(socket, cancelledEvent(jobId));
  }

  /** Runs a handler so that nothing a client sends can throw out of Socket.IO's dispatch. */
  function guarded(
    socket: GatewaySocket,
    name: string,
    handler: (socket: GatewaySocket, payload: unknown) => Promise<void>,
  ) {
    return (payload?: unknown): void => {
      handler(socket, payload).catch((err: unknown) => {
        logger.warn({ err, event: name, clientId: socket.id }, 'socket handler failed');
      });
    };
  }

  io.on('connection', (socket) => {
    logger.debug({ clientId: socket.id }, 'socket connected');
    socket.emit('connected', { message: MESSAGES.connected, client_id: socket.id });
    socket.on('subscribe_job', guarded(socket, 'subscribe_job', subscribe));
    socket.on('unsubscribe_job', guarded(socket, 'unsubscribe_job', unsubscribe));
    socket.on('cancel_job', guarded(socket, 'cancel_job', cancel));
    socket.on('ping', () => {
      socket.emit('pong', { timestamp: Date.now() });
    });
    socket.on('disconnect', (reason) => {
      logger.debug({ clientId: socket.id, reason }, 'socket disconnected');
    });
  });

  const unsubscribeEvents = deps.events?.subscribe(emit) ?? null;
  let closing: Promise<void> | null = null;

  return {
    io,
    /** Sends a job event to room `<job_id>` (through the adapter, so to every api process). */
    emit,
    /**
     * Disconnects this process's sockets and stops the engine. It leaves the HTTP server to its
     * owner, unlike `io.close()`. Call it from Fastify's `preClose` hook: Fastify waits for open
     * connections (long polls, WebSockets) before its `onClose` hooks run.
     */
    close(): Promise<void> {
      closing ??= (async () => {
        unsubscribeEvents?.();
        // `local`: with the Redis adapter a plain disconnectSockets would reach every api process.
        io.local.disconnectSockets(true);
        await io.of('/').adapter.close();
        io.engine.close();
      })();
      return closing;
    },
    stats(): { clients: number } {
      return { clients: io.of('/').sockets.size };
    },
  };
}

export type SocketGateway = ReturnType<typeof createSocketGateway>;
