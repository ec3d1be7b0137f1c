/**
 * Pure helpers for serving a stored object straight from the bucket (SPEC §2 Token, §8).
 */

/** V4 signed URLs cannot live longer than seven days (Cloud Storage's own limit). */
export const V4_MAX_TTL_SECONDS = 7 * 24 * 3600;

/**
 * When a signed URL handed out at `now` must expire: at most `maxTtlSeconds` from now and never past
 * `notAfter` (the token's expiry), both in unix ms. Rounded down to a whole second, because V4
 * URLs count in seconds and rounding up could outlive the token. Null when nothing is left.
 */
export function signedUrlExpiry(now: number, notAfter: number, maxTtlSeconds: number): number | null {
  const ttlSeconds = Math.min(maxTtlSeconds, V4_MAX_TTL_SECONDS);
  const cap = Math.min(notAfter, now + ttlSeconds * 1000);
  const seconds = Math.floor(cap / 1000);
  // A URL valid for less than a second is useless to a browser following a redirect.
  return seconds * 1000 > now ? seconds * 1000 : null;
}
