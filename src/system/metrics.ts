/**
 * Prometheus metrics (`GET /metrics` on the API port, and on WORKER_PORT for a worker): process
 * metrics, the queue, finished jobs by outcome, Socket.IO clients and rate-limit fail-opens.
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { EventBus, JobEvent } from '../events/event-bus.js';
import type { QueueCounts } from '../queue/job-queue.js';

export interface MetricsDeps {
  queue: { counts(): Promise<QueueCounts> };
  rateLimitFailOpens(): number;
}

export function createMetrics(deps: MetricsDeps) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ultradl_' });
  let socketClients: (() => number) | null = null;

  new Gauge({
    name: 'ultradl_queue_jobs',
    help: 'Jobs in the queue by state (cluster-wide in distributed mode)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      // A scrape during a store outage shows no queue figures rather than failing.
      const counts = await deps.queue.counts().catch(() => null);
      if (!counts) return;
      this.set({ state: 'waiting' }, counts.waiting);
      this.set({ state: 'active' }, counts.active);
    },
  });
  new Gauge({
    name: 'ultradl_rate_limit_fail_opens',
    help: 'Requests let through since start because the rate-limit store failed',
    registers: [registry],
    collect() {
      this.set(deps.rateLimitFailOpens());
    },
  });
  new Gauge({
    name: 'ultradl_socketio_clients',
    help: 'Socket.IO clients connected to this process',
    registers: [registry],
    collect() {
      if (socketClients) this.set(socketClients());
    },
  });
  const finished = new Counter({
    name: 'ultradl_jobs_finished_total',
    help: 'Jobs finished by this process, by outcome and error category',
    labelNames: ['outcome', 'category'],
    registers: [registry],
  });

  return {
    registry,
    /** Counts socket clients through the gateway's own figure. */
    watchSockets(clients: () => number): void {
      socketClients = clients;
    },
    /** An EventBus that counts the outcomes it carries, for a worker's job handler. */
    countingEvents(bus: EventBus): EventBus {
      return {
        ...bus,
        publish(event: JobEvent) {
          if (event.name === 'job_completed') finished.inc({ outcome: 'completed', category: '' });
          else if (event.name === 'job_failed') finished.inc({ outcome: 'failed', category: event.payload.error_category });
          bus.publish(event);
        },
      };
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
