/**
 * Transport hardening of the HTTP API (SPEC §2, §10): CORS per CORS_ORIGINS with the rate-limit
 * headers exposed, no MIME sniffing, no framing, and server limits against oversized bodies and
 * slow-loris clients.
 */
import cors from '@fastify/cors';
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

export interface SecurityOptions {
  /** `'*'`: any origin, without credentials (the default); otherwise the exact allowed origins. */
  corsOrigins: string[] | '*';
}

export async function registerSecurity(app: FastifyInstance, options: SecurityOptions): Promise<void> {
  // Awaited so that CORS's onRequest hook is in place before later hooks (API keys), and a
  // preflight is answered without a key.
  await app.register(cors, {
    origin: options.corsOrigins === '*' ? '*' : options.corsOrigins,
    credentials: false,
    methods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
  });

  // Set when the request arrives (a callback hook: cheaper than an async one on every request). A
  // page that sets its own policy later (the docs UI) replaces the CSP; everything else keeps only
  // the framing rule, which cannot break a page that is not framed.
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(SECURITY_HEADERS);
    done();
  });
}
