import { createHash } from 'node:crypto';

/**
 * The opaque per-client key stored with jobs and used in rate-limit keys: a hash, so no raw IP
 * is ever stored (SPEC §7, §10).
 */
export function hashClientKey(ipOrKey: string): string {
  return createHash('sha256').update(`ultra-dl:client:${ipOrKey}`).digest('hex').slice(0, 32);
}
