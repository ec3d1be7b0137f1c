/**
 * The hourly limits of listed endpoints (RATE_LIMIT_ENDPOINT_HOURLY) as a Fastify hook. It runs as
 * a `preHandler`, after schema validation, so a request refused for its input spends nothing.
 * `POST /downloads/` is limited by the download service itself, once the format's type is known.
 */
import type { FastifyInstance } from 'fastify';
import { clientIp } from './client-ip.js';
import type { RateLimitService } from './rate-limit-service.js';

export function registerRateLimitHooks(
  app: FastifyInstance,
  service: Pick<RateLimitService, 'active' | 'consumeEndpoint'>,
): void {
  if (!service.active) return;
  app.addHook('preHandler', async (request, reply) => {
    // Unknown routes and wrong methods are answered by the not-found handler; they count nowhere.
    if (request.is404) return;
    // The matched route, not the raw URL, so `/api/v1/videos/%72esolutions` counts too.
    const headers = await service.consumeEndpoint(request.routeOptions.url ?? request.url, clientIp(request));
    if (headers) reply.headers(headers);
  });
}
