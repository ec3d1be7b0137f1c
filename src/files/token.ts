/**
 * File tokens (SPEC §2, §10): 32 random bytes as base64url, 43 characters, unguessable.
 */
import { randomBytes } from 'node:crypto';

/** Random bytes per token: 256 bits, so guessing a live token is hopeless. */
export const FILE_TOKEN_BYTES = 32;

// 32 bytes are 256 bits: 42 full base64url characters plus one carrying 4 bits, whose low 2 bits
// are zero, so the last character is one of these 16.
const TOKEN_SOURCE = '^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$';
const TOKEN_PATTERN = new RegExp(TOKEN_SOURCE);

/** The JSON Schema `pattern` of a token, for route schemas. */
export const FILE_TOKEN_PATTERN = TOKEN_SOURCE;

export function newFileToken(): string {
  return randomBytes(FILE_TOKEN_BYTES).toString('base64url');
}

/** True when `s` could be a token this service issued (exact length and alphabet). */
export function isWellFormedToken(s: unknown): s is string {
  return typeof s === 'string' && TOKEN_PATTERN.test(s);
}
