/**
 * Transport hardening of the HTTP API (SPEC §2, §10): CORS per CORS_ORIGINS with the rate-limit
 * headers exposed, no MIME sniffing, no framing, and server limits against oversized bodies and
 * slow-loris clients.
 */
import type { FastifyInstance } from 'fastify';

/**
 * Fastify options that bound what one connection can hold (pass them to `Fastify({...})`).
 * A slow-loris client trickling its headers is cut off after `headersTimeout`, one trickling its
 * body after `requestTimeout`; an idle socket after `connectionTimeout`. The response time is not
 * bounded by these, so long file downloads are unaffected as long as the client keeps reading.
 */
export const HTTP_SERVER_LIMITS = {
  /** SPEC §2: bodies of at most 16 KiB; a larger one is a 413 with the error body. */
  bodyLimit: 16 * 1024,
  /** Socket inactivity, ms. Above Socket.IO's 25 s ping interval, so live sockets are not cut. */
  connectionTimeout: 60_000,
  /** The whole request (headers and body) must arrive within this, ms. */
  requestTimeout: 30_000,
  /** Idle keep-alive connections are closed after this, ms. */
  keepAliveTimeout: 5_000,
  http: {
    /** The headers must arrive within this, ms. */
    headersTimeout: 10_000,
    // Node checks the two timeouts above only on this period (default 30 s), which would let a
    // slow-loris client hold its connection up to 30 s longer than configured.
    connectionsCheckingInterval: 2_000,
  },
} as const;

/** The headers a browser client may read from our responses (SPEC §2 CORS, §7). */
export const EXPOSED_HEADERS = ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Retry-After'];

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "frame-ancestors 'none'",
};

const PREFLIGHT_HEADERS = {
  'Access-Control-Allow-Methods': 'GET, HEAD, POST, DELETE, OPTIONS',
  'Access-Control-Max-Age': '600',
};

export interface SecurityOptions {
  /** `'*'`: any origin, without credentials (the default); otherwise the exact allowed origins. */
  corsOrigins: string[] | '*';
}

/**
 * The security and CORS headers of an answer to `origin` (the request's `Origin`), without
 * credentials. With `'*'` they are the same for every request; with a list, only a listed origin
 * is named, and `Vary: Origin` tells caches the answer depends on it.
 */
function responseHeaders(corsOrigins: string[] | '*'): (origin: string | undefined) => Record<string, string> {
  const exposed = EXPOSED_HEADERS.join(', ');
  if (corsOrigins === '*') {
    const headers = { ...SECURITY_HEADERS, 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': exposed };
    return () => headers;
  }
  const allowed = new Set(corsOrigins);
  const refused = { ...SECURITY_HEADERS, Vary: 'Origin' };
  return (origin) =>
    origin !== undefined && allowed.has(origin)
      ? { ...refused, 'Access-Control-Allow-Origin': origin, 'Access-Control-Expose-Headers': exposed }
      : refused;
}

export function registerSecurity(app: FastifyInstance, options: SecurityOptions): void {
  const headersFor = responseHeaders(options.corsOrigins);

  // One callback hook for CORS and the security headers, set when the request arrives, so error
  // and not-found answers carry them too. A page that sets its own policy later (the docs UI)
  // replaces the CSP; everything else keeps only the framing rule, which cannot break a page that
  // is not framed. Registered before the API-key hook, so a preflight is answered without a key.
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(headersFor(request.headers.origin));
    done();
  });

  // A preflight on any path; any other OPTIONS request is the not-found handler's (404 or 405).
  app.options('*', { schema: { hide: true } }, (request, reply) => {
    const { origin, 'access-control-request-method': method } = request.headers;
    if (origin === undefined || method === undefined) return reply.callNotFound();
    const asked = request.headers['access-control-request-headers'];
    reply.headers(PREFLIGHT_HEADERS);
    if (asked !== undefined) {
      reply.header('Access-Control-Allow-Headers', asked);
      reply.header('Vary', options.corsOrigins === '*' ? 'Access-Control-Request-Headers' : 'Origin, Access-Control-Request-Headers');
    }
    return reply.code(204).send();
  });
}
