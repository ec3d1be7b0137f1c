/**
 * Maps every error and every unknown route to the SPEC §2 error body. Nothing leaves as HTML or a
 * stack trace; anything unknown becomes `system_error` 500 and is logged with its stack.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AppError, errorBody } from '../errors.js';

/** Fastify's own error codes that are the client's fault, with the category and status we answer. */
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; reason?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, reason: 'Content-Type must be application/json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, reason: 'The request body is larger than 16 KiB' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, reason: 'The body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, reason: 'The body is empty' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, reason: 'Content-Length does not match the body' },
  FST_ERR_CTP_INVALID_TYPE: { status: 415, reason: 'Content-Type must be application/json' },
  FST_ERR_VALIDATION: { status: 400 },
  FST_ERR_BAD_URL: { status: 400, reason: 'The URL is malformed' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400 },
};

/** Converts any thrown value into an AppError: the one place where unknown errors are decided. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const fe = err as Partial<FastifyError> & { type?: string; status?: number };
  if (fe && Array.isArray(fe.validation)) {
    return new AppError('invalid_request', { status: 400, fields: validationFields(fe as FastifyError) });
  }
  const known = fe?.code ? FASTIFY_CLIENT_ERRORS[fe.code] : undefined;
  if (known) {
    return new AppError('invalid_request', {
      status: known.status,
      fields: known.reason ? { body: known.reason } : undefined,
    });
  }
  // Body-parser style errors (e.g. a malformed JSON from a raw parser) carry a 4xx statusCode.
  const status = fe?.statusCode ?? fe?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError('invalid_request', { status, detail: fe?.message });
  }
  return new AppError('system_error', { status: 500, cause: err });
}

function validationFields(err: FastifyError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const v of err.validation ?? []) {
    const missing = (v.params as { missingProperty?: string } | undefined)?.missingProperty;
    const path = (v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
    const field = missing ?? (path || err.validationContext || 'body');
    fields[field] ??= missing ? 'is required' : (v.message ?? 'is invalid');
  }
  return fields;
}

export function sendAppError(reply: FastifyReply, err: AppError): FastifyReply {
  if (err.headers) reply.headers(err.headers);
  return reply.code(err.status).type('application/json; charset=utf-8').send(errorBody(err));
}

/**
 * Installs the error and not-found handlers. Unknown paths are 404 and known paths with another
 * method 405, both `invalid_request`. Errors are logged to `logger` with the request's id: the
 * Fastify instances have no logger of their own, which would cost every request a child logger
 * and response listeners for lines they never write.
 */
export function registerErrorHandling(app: FastifyInstance, logger: Logger): void {
  const routes: { pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (route) => {
    // Catch-all routes (CORS preflight) say nothing about which methods a path has.
    if (route.url.includes('*')) return;
    const pattern = new RegExp(
      '^' + route.url.replace(/\/+$/, '').replace(/:[^/]+/g, '[^/]+') + '/?$',
    );
    const methods = [route.method].flat().map((m) => m.toUpperCase());
    const existing = routes.find((r) => r.pattern.source === pattern.source);
    if (existing) methods.forEach((m) => existing.methods.add(m));
    else routes.push({ pattern, methods: new Set(methods) });
  });

  // Request bodies are JSON only (SPEC §2): anything else is a 415, not a string to validate.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(error);
    // ERROR means someone must act: our own failures. An upstream one (a 502/503 from yt-dlp's
    // network or the platform, a Redis outage) is a warning.
    const at = { reqId: request.id, method: request.method, route: request.routeOptions.url };
    if (appError.category === 'system_error' && appError.status === 500) {
      logger.error({ ...at, err: appError.cause ?? error }, 'request failed');
    } else if (appError.status >= 500) {
      logger.warn({ ...at, category: appError.category, detail: appError.detail }, 'request failed upstream');
    } else if (logger.isLevelEnabled('debug')) {
      logger.debug({ ...at, category: appError.category, detail: appError.detail }, 'request refused');
    }
    return sendAppError(reply, appError);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = routes.find((r) => r.pattern.test(path))?.methods;
    if (allowed && !allowed.has(request.method)) {
      reply.header('Allow', [...allowed].join(', '));
      return sendAppError(reply, new AppError('invalid_request', { status: 405 }));
    }
    return sendAppError(reply, new AppError('invalid_request', { status: 404 }));
  });
}
