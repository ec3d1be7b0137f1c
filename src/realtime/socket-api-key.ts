/**
 * API keys on the Socket.IO handshake (SPEC §10): the same `X-API-Key` / `Authorization: Bearer`
 * headers as the REST API, plus `auth.apiKey` / `auth.token` because browsers cannot set headers
 * on a WebSocket.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { AppError, errorBody, type ErrorBody } from '../errors.js';
import { createApiKeyMatcher, offeredApiKeys } from '../http/api-keys.js';

export interface HandshakeCredentials {
  headers: IncomingHttpHeaders;
  auth: Record<string, unknown>;
}

/** What a refused client sees as `connect_error`: `err.message` and `err.data`. */
export type UnauthorizedError = Error & { data: ErrorBody };

/** Every key a handshake offers: the REST API's headers, or `auth.apiKey` / `auth.token`. */
export function offeredKeys({ headers, auth }: HandshakeCredentials): string[] {
  const keys = offeredApiKeys(headers);
  for (const field of ['apiKey', 'token']) {
    const value = auth[field];
    if (typeof value === 'string' && value.trim() !== '') keys.push(value.trim());
  }
  return keys;
}

/** A checker over the configured keys (the REST API's matcher); with no keys every handshake passes. */
export function createApiKeyCheck(apiKeys: readonly string[]) {
  const matches = createApiKeyMatcher(apiKeys);
  return (credentials: HandshakeCredentials): boolean => apiKeys.length === 0 || matches(offeredKeys(credentials));
}

export function unauthorizedError(): UnauthorizedError {
  const body = errorBody(new AppError('unauthorized'));
  return Object.assign(new AppError('unauthorized', { detail: 'unauthorized' }), { data: body });
}
