import type { FastifyInstance } from 'fastify';
import type { HealthService } from './health-service.js';

export function registerHealthRoutes(app: FastifyInstance, deps: { health: HealthService }): void {
  for (const url of ['/health', '/api/v1/system/health']) {
    app.get(url, { schema: { tags: ['system'], summary: 'Service health' } }, async (_request, reply) => {
      const report = await deps.health.report();
      return reply.code(report.status === 'ok' ? 200 : 503).send(report);
    });
  }
}
