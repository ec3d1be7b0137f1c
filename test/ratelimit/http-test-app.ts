/**
 * A plain Fastify app with this area's hooks the way buildApp wires them (security, API keys,
 * rate-limit hooks, the error handler), and a few stand-in routes shaped like the real ones.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { registerApiKeyAuth } from '../../src/http/api-keys.js';
import { pino } from 'pino';
import { registerErrorHandling } from '../../src/http/error-handler.js';
import { HTTP_SERVER_LIMITS, registerSecurity } from '../../src/http/security.js';
import { clientIp, trustProxyOption } from '../../src/ratelimit/client-ip.js';
import { registerRateLimitHooks } from '../../src/ratelimit/rate-limit-hooks.js';
import type { RateLimitService } from '../../src/ratelimit/rate-limit-service.js';

export interface HttpTestOptions {
  rateLimits?: RateLimitService;
  corsOrigins?: string[] | '*';
  apiKeys?: string[];
  trustProxy?: string[];
}

export async function buildHttpTestApp(options: HttpTestOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    trustProxy: trustProxyOption(options.trustProxy ?? ['loopback']),
    routerOptions: { ignoreTrailingSlash: true },
    ...HTTP_SERVER_LIMITS,
  });
  registerErrorHandling(app, pino({ level: 'silent' }));
  registerSecurity(app, { corsOrigins: options.corsOrigins ?? '*' });
  registerApiKeyAuth(app, options.apiKeys ?? []);
  if (options.rateLimits) registerRateLimitHooks(app, options.rateLimits);

  const limits = options.rateLimits;
  const urlBody = { body: Type.Object({ url: Type.String({ minLength: 1 }) }) };
  app.post('/api/v1/videos/resolutions', { schema: urlBody }, async () => ({ meta: {}, formats: [] }));
  app.post(
    '/api/v1/downloads/',
    { schema: { body: Type.Object({ url: Type.String(), format_id: Type.String({ pattern: '^[A-Za-z0-9._+-]+$' }) }) } },
    async (request, reply) => {
      if (limits) reply.headers(await limits.consumeDownload(clientIp(request), 'video-only'));
      return reply.code(202).send({ job_id: 'j', status: 'pending' });
    },
  );
  app.get('/api/v1/jobs/:job_id', async (request) => ({ job_id: (request.params as { job_id: string }).job_id }));
  for (const url of ['/health', '/api/v1/system/health']) app.get(url, async () => ({ status: 'ok' }));
  app.get('/api/v1/docs', async (_request, reply) => reply.type('text/html').send('<html>docs</html>'));
  app.get('/api/v1/openapi.json', async () => ({ openapi: '3.0.3' }));
  await app.ready();
  return app;
}
