/**
 * An independent check of a Cloud Storage V4 signed URL, written from Google's description of the
 * signing process (canonical request → string-to-sign → RSA-SHA256), not from the client library.
 */
import { createHash, verify, type KeyObject } from 'node:crypto';

export interface VerifiedSignedUrl {
  bucket: string;
  object: string;
  /** When the URL was signed (ms), from `X-Goog-Date`. */
  signedAt: number;
  /** When it stops working (ms): signedAt + `X-Goog-Expires`. */
  expiresAt: number;
  expiresSeconds: number;
  credentialScope: string;
  /** The query parameters, decoded. */
  query: Record<string, string>;
}

export interface VerifyOptions {
  publicKey: KeyObject | string;
  clientEmail: string;
  method?: string;
}

/** RFC 3986 percent-encoding, as the V4 canonical query requires (`encodeURIComponent` leaves `!'()*`). */
function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function parseGoogDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) throw new Error(`X-Goog-Date ${JSON.stringify(value)} is not YYYYMMDDTHHMMSSZ`);
  const [, y, mo, d, h, mi, s] = m;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
}

/** Verifies everything a V4 signed GET carries and returns what it grants; throws with the reason. */
export function verifyV4SignedUrl(signedUrl: string, options: VerifyOptions): VerifiedSignedUrl {
  const url = new URL(signedUrl);
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;

  const need = (name: string): string => {
    const value = query[name];
    if (value === undefined) throw new Error(`missing ${name}`);
    return value;
  };
  if (need('X-Goog-Algorithm') !== 'GOOG4-RSA-SHA256') throw new Error(`algorithm ${query['X-Goog-Algorithm']}`);
  const date = need('X-Goog-Date');
  const signedAt = parseGoogDate(date);
  const credential = need('X-Goog-Credential');
  const credentialScope = `${date.slice(0, 8)}/auto/storage/goog4_request`;
  if (credential !== `${options.clientEmail}/${credentialScope}`) throw new Error(`credential ${credential}`);
  const expiresText = need('X-Goog-Expires');
  if (!/^\d+$/.test(expiresText)) throw new Error(`X-Goog-Expires ${expiresText}`);
  const expiresSeconds = Number(expiresText);
  if (expiresSeconds < 1 || expiresSeconds > 604_800) throw new Error(`X-Goog-Expires ${expiresSeconds} out of range`);
  const signedHeaders = need('X-Goog-SignedHeaders');
  if (signedHeaders !== 'host') throw new Error(`signed headers ${signedHeaders}`);
  const signature = need('X-Goog-Signature');
  if (!/^[0-9a-f]+$/.test(signature)) throw new Error('signature is not lowercase hex');

  const canonicalQuery = Object.entries(query)
    .filter(([k]) => k !== 'X-Goog-Signature')
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalRequest = [
    options.method ?? 'GET',
    url.pathname,
    canonicalQuery,
    `host:${url.hostname}\n`,
    signedHeaders,
    'UNSIGNED-PAYLOAD',
  ].join('\n');
  const stringToSign = [
    'GOOG4-RSA-SHA256',
    date,
    credentialScope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  if (!verify('RSA-SHA256', Buffer.from(stringToSign), options.publicKey, Buffer.from(signature, 'hex'))) {
    throw new Error('signature does not verify');
  }

  const [, bucket = '', ...rest] = url.pathname.split('/');
  return {
    bucket: decodeURIComponent(bucket),
    object: decodeURIComponent(rest.join('/')),
    signedAt,
    expiresAt: signedAt + expiresSeconds * 1000,
    expiresSeconds,
    credentialScope,
    query,
  };
}
