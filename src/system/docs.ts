/** The OpenAPI document and Swagger UI, generated from the route schemas (SPEC §2). */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

export async function registerDocs(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      // 3.1: nullable fields are written as `type: [t, 'null']` (JSON Schema), which 3.0 lacks.
      openapi: '3.1.0',
      info: {
        title: 'ultra-dl API',
        version,
        description: 'Video download service: resolve formats, run download jobs, fetch files by token.',
      },
      tags: [
        { name: 'videos' },
        { name: 'downloads' },
        { name: 'jobs' },
        { name: 'files' },
        { name: 'system' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/v1/docs' });
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
