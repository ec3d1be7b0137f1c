/**
 * API keys on the Socket.IO handshake (SPEC §10): the same `X-API-Key` / `Authorization: Bearer`
 * headers as the REST API, plus `auth.apiKey` / `auth.token` because browsers cannot set headers
 * on a WebSocket.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { AppError, errorBody, type ErrorBody } from '../errors.js';

export interface HandshakeCredentials {
  headers: IncomingHttpHeaders;
  auth: Record<string, unknown>;
}

/** What a refused client sees as `connect_error`: `err.message` and `err.data`. */
export type UnauthorizedError = Error & { data: ErrorBody };

function digest(value: string): Buffer {
  // Hashing first gives equal-length buffers, so the comparison time says nothing about the key.
  return createHash('sha256').update(value).digest();
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Every key a handshake offers; a client may send one in several places. */
export function offeredKeys({ headers, auth }: HandshakeCredentials): string[] {
  const keys: string[] = [];
  const header = firstHeader(headers['x-api-key']);
  if (header) keys.push(header.trim());
  const authorization = firstHeader(headers.authorization);
  const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
  if (bearer?.[1]) keys.push(bearer[1]);
  for (const field of ['apiKey', 'token']) {
    const value = auth[field];
    if (typeof value === 'string' && value !== '') keys.push(value.trim());
  }
  return keys.filter((key) => key !== '');
}

/** A checker over the configured keys; with no keys configured every handshake passes. */
export function createApiKeyCheck(apiKeys: readonly string[]) {
  const digests = apiKeys.map(digest);
  return (credentials: HandshakeCredentials): boolean => {
    if (digests.length === 0) return true;
    return offeredKeys(credentials).some((key) => {
      const offered = digest(key);
      return digests.some((known) => timingSafeEqual(known, offered));
    });
  };
}

export function unauthorizedError(): UnauthorizedError {
  const body = errorBody(new AppError('unauthorized'));
  return Object.assign(new AppError('unauthorized', { detail: 'unauthorized' }), { data: body });
}
