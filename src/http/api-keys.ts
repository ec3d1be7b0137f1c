/**
 * Optional API keys on the REST API (SPEC §10). With API_KEYS unset the API stays open, as the
 * original's web client needs; with keys set, every `/api/v1` route except health and the docs
 * needs `X-API-Key: <key>` or `Authorization: Bearer <key>`, else 401 `unauthorized`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

/** Routes under /api/v1 that stay open with keys set (health checks, the API docs). */
function isOpenRoute(route: string): boolean {
  return route === '/api/v1/system/health' || route === '/api/v1/openapi.json' || route.startsWith('/api/v1/docs');
}

function digest(value: string): Buffer {
  // Equal-length digests make the comparison constant-time whatever the offered key's length.
  return createHash('sha256').update(value, 'utf8').digest();
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The key a request offers, from `X-API-Key` or `Authorization: Bearer`. */
export function offeredApiKeys(headers: Record<string, string | string[] | undefined>): string[] {
  const keys: string[] = [];
  const header = single(headers['x-api-key'])?.trim();
  if (header) keys.push(header);
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(single(headers.authorization) ?? '');
  if (bearer?.[1]) keys.push(bearer[1]);
  return keys;
}

/** True when one of the offered keys is configured; compares every configured key, in constant time. */
export function createApiKeyMatcher(apiKeys: readonly string[]): (offered: readonly string[]) => boolean {
  const known = apiKeys.map(digest);
  return (offered) => {
    let match = false;
    for (const key of offered) {
      const d = digest(key);
      // No early exit, so the time taken does not tell which key (or how many) matched.
      for (const k of known) match = timingSafeEqual(k, d) || match;
    }
    return match;
  };
}

export function registerApiKeyAuth(app: FastifyInstance, apiKeys: readonly string[]): void {
  if (apiKeys.length === 0) return;
  const matches = createApiKeyMatcher(apiKeys);
  app.addHook('onRequest', async (request) => {
    // A CORS preflight carries no credentials by design; CORS answers it.
    if (request.method === 'OPTIONS') return;
    // Decided by the route the router matched, never by the raw URL: `/%61pi/v1/…` routes to
    // `/api/v1/…` too. An unmatched request is a 404 whatever it offers.
    const route = request.routeOptions.url;
    if (route === undefined || !route.startsWith('/api/v1') || isOpenRoute(route)) return;
    if (!matches(offeredApiKeys(request.headers))) {
      throw new AppError('unauthorized', { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } });
    }
  });
}
