/**
 * The hourly limits of listed endpoints (RATE_LIMIT_ENDPOINT_HOURLY) as a hook on those routes only.
 * It runs as a `preHandler`, after schema validation, so a request refused for its input spends
 * nothing. `POST /downloads/` is limited by the download service itself, once the format's type is
 * known.
 */
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { clientIp } from './client-ip.js';
import type { RateLimitService } from './rate-limit-service.js';

export function registerRateLimitHooks(
  app: FastifyInstance,
  service: Pick<RateLimitService, 'limitsEndpoint' | 'consumeEndpoint'>,
): void {
  const limit: preHandlerAsyncHookHandler = async (request, reply) => {
    // The matched route, not the raw URL, so `/api/v1/videos/%72esolutions` counts too.
    const headers = await service.consumeEndpoint(request.routeOptions.url ?? request.url, clientIp(request));
    if (headers) reply.headers(headers);
  };
  // Only on the routes a limit is listed for: every other request skips the hook altogether.
  // Unknown routes and wrong methods are the not-found handler's; they count nowhere.
  app.addHook('onRoute', (route) => {
    if (!service.limitsEndpoint(route.url)) return;
    route.preHandler = [limit, ...[route.preHandler ?? []].flat()];
  });
}
