/**
 * The video URL value and its policy (SPEC §5, §10): http(s) only, bounded, host allowed, no
 * requests to loopback/private/link-local/metadata addresses unless that host is listed explicitly.
 */
import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import { AppError } from '../errors.js';
import { rejectAfter } from '../time-limits.js';

export type MediaUrl = string & { readonly __brand: 'MediaUrl' };

export interface UrlPolicy {
  /** Exact host names or IP literals (`*.example.com` for subdomains), or `'*'` for any public host. */
  allowedHosts: string[] | '*';
}

export const MAX_URL_LENGTH = 2048;

const YOUTUBE_HOSTS = new Set(['youtube.com', 'www.youtube.com', 'm.youtube.com', 'music.youtube.com']);
const YOUTU_BE = 'youtu.be';
const YOUTUBE_ID_RE = /^[A-Za-z0-9_-]{11}$/;

function invalidUrl(detail: string): AppError {
  return new AppError('invalid_url', { detail });
}

/** The host of a URL as compared with the policy: lower case, no brackets, no trailing dot. */
function hostKey(hostname: string): string {
  let h = hostname.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** An allowed-hosts entry in the same form, IP literals normalised as WHATWG URL would. */
function entryKey(entry: string): string {
  const raw = entry.trim().toLowerCase();
  if (raw.startsWith('*.')) return raw;
  try {
    const bracketed = isIP(raw) === 6 ? `[${raw}]` : raw;
    return hostKey(new URL(`http://${bracketed}/`).hostname);
  } catch {
    return hostKey(raw);
  }
}

/** True when `host` (a hostKey) is named by the policy list itself, not merely allowed by `'*'`. */
export function isExplicitlyListed(host: string, policy: UrlPolicy): boolean {
  if (policy.allowedHosts === '*') return false;
  const key = hostKey(host);
  return policy.allowedHosts.some((entry) => {
    const e = entryKey(entry);
    return e.startsWith('*.') ? key.endsWith(e.slice(1)) && key.length > e.length - 1 : e === key;
  });
}

function parseV4(ip: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return null;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : null;
}

function privateV4([a, b, c]: number[]): boolean {
  if (a === undefined || b === undefined || c === undefined) return true;
  return (
    a === 0 || // "this network"
    a === 10 ||
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    a === 127 ||
    (a === 169 && b === 254) || // link-local, cloud metadata (169.254.169.254)
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) || // IETF protocol assignments, TEST-NET-1
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    (a === 198 && b === 51 && c === 100) ||
    (a === 203 && b === 0 && c === 113) ||
    a >= 224 // multicast, reserved, broadcast
  );
}

/** The eight 16-bit groups of an IPv6 address, or null when it is not one. */
function parseV6(input: string): number[] | null {
  let ip = input.toLowerCase();
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  if (isIP(ip) !== 6) return null;
  const lastColon = ip.lastIndexOf(':');
  const v4 = parseV4(ip.slice(lastColon + 1));
  if (v4) {
    // A dotted IPv4 tail (`::ffff:1.2.3.4`) is the last two groups.
    const [a = 0, b = 0, c = 0, d = 0] = v4;
    ip = `${ip.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = ip.split('::');
  const toGroups = (s: string | undefined) => (!s ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = toGroups(halves[0]);
  const right = toGroups(halves[1]);
  const groups = halves.length === 2 ? [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right] : left;
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

function embeddedV4(g: number[], from: number): number[] {
  const hi = g[from] ?? 0;
  const lo = g[from + 1] ?? 0;
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
}

function privateV6(g: number[]): boolean {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0] = g;
  const zeroHead = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (zeroHead && g5 === 0) {
    // :: and ::1, and the deprecated IPv4-compatible ::a.b.c.d.
    return (g[6] ?? 0) === 0 ? true : privateV4(embeddedV4(g, 6));
  }
  if (zeroHead && g5 === 0xffff) return privateV4(embeddedV4(g, 6)); // IPv4-mapped
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return privateV4(embeddedV4(g, 6)); // NAT64
  if (g0 === 0x2002) return privateV4(embeddedV4(g, 1)); // 6to4
  if (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0) return true; // discard prefix
  if (g0 === 0x2001 && g1 === 0xdb8) return true; // documentation
  return (
    (g0 & 0xfe00) === 0xfc00 || // unique local, incl. AWS metadata fd00:ec2::254
    (g0 & 0xffc0) === 0xfe80 || // link-local
    (g0 & 0xffc0) === 0xfec0 || // site-local (deprecated)
    (g0 & 0xff00) === 0xff00 // multicast
  );
}

/**
 * True for addresses no server-side fetch should reach: loopback, private, link-local, cloud
 * metadata, CGNAT, multicast, reserved and documentation ranges, IPv4 and IPv6 (v4-mapped,
 * NAT64 and 6to4 are judged by the IPv4 address inside). Anything that is not an IP is "private".
 */
export function isPrivateAddress(ip: string): boolean {
  const raw = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const v4 = parseV4(raw);
  if (v4) return privateV4(v4);
  const v6 = parseV6(raw);
  return v6 ? privateV6(v6) : true;
}

/** `https://www.youtube.com/watch?v=<id>` for any accepted YouTube URL form, else null. */
function canonicalYoutube(u: URL, host: string): string | null {
  let id: string | null = null;
  if (host === YOUTU_BE) {
    id = u.pathname.split('/')[1] ?? null;
  } else if (u.pathname === '/watch' || u.pathname === '/watch/') {
    id = u.searchParams.get('v');
  } else {
    const m = /^\/(shorts|live|embed|v)\/([^/]+)\/?$/.exec(u.pathname);
    id = m?.[2] ?? null;
  }
  if (!id || !YOUTUBE_ID_RE.test(id)) return null;
  // A `&list=` or `&index=` means the single video (SPEC §5); only the start time survives.
  const t = u.searchParams.get('t');
  const start = t && /^\d+s?$/.test(t) ? `&t=${t}` : '';
  return `https://www.youtube.com/watch?v=${id}${start}`;
}

export function isYoutubeHost(host: string): boolean {
  const key = hostKey(host);
  return YOUTUBE_HOSTS.has(key) || key === YOUTU_BE;
}

/**
 * Validates a client's URL against the policy and returns it normalised: YouTube URLs become
 * `https://www.youtube.com/watch?v=<id>`; other URLs are WHATWG-serialised without a fragment.
 * Throws `invalid_request` (missing or not a string) or `invalid_url`.
 */
export function parseMediaUrl(input: unknown, policy: UrlPolicy): MediaUrl {
  if (input === undefined || input === null || (typeof input === 'string' && input.trim() === '')) {
    throw new AppError('invalid_request', { fields: { url: 'is required' }, detail: 'url is required' });
  }
  if (typeof input !== 'string') {
    throw new AppError('invalid_request', { fields: { url: 'must be a string' }, detail: 'url must be a string' });
  }
  // Pasted URLs often carry surrounding blanks; blanks or controls inside are refused below.
  const text = input.trim();
  if (text.length > MAX_URL_LENGTH) throw invalidUrl(`longer than ${MAX_URL_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(text)) throw invalidUrl('contains whitespace or control characters');
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw invalidUrl('not a URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalidUrl(`scheme ${u.protocol} is not allowed`);
  if (u.username || u.password) throw invalidUrl('credentials in URLs are not allowed');
  const host = hostKey(u.hostname);
  if (host === '') throw invalidUrl('no host');
  const listed = isExplicitlyListed(host, policy);
  if (!listed && policy.allowedHosts !== '*') throw invalidUrl(`host ${host} is not allowed`);
  if (!listed && isIP(host) !== 0 && isPrivateAddress(host)) throw invalidUrl(`address ${host} is not public`);
  if (isYoutubeHost(host)) {
    const canonical = canonicalYoutube(u, host);
    if (!canonical) throw invalidUrl('not a YouTube video URL');
    return canonical as MediaUrl;
  }
  u.hash = '';
  if (u.href.length > MAX_URL_LENGTH) throw invalidUrl(`longer than ${MAX_URL_LENGTH} characters`);
  return u.href as MediaUrl;
}

export type LookupFn = (hostname: string, options: { all: true }) => Promise<{ address: string; family: number }[]>;

/** A request waits on this look-up; a resolver that hangs must not hang the request with it. */
const LOOKUP_TIMEOUT_MS = 5_000;

const defaultLookup: LookupFn = (hostname, options) =>
  rejectAfter(dnsPromises.lookup(hostname, options), LOOKUP_TIMEOUT_MS, () => new Error(`DNS look-up of ${hostname} timed out`));

/**
 * Resolves the URL's host and refuses it when any address is loopback, private, link-local or
 * metadata, unless the host is listed explicitly (e.g. `localhost` resolving to 127.0.0.1 is refused
 * unless `localhost` is listed). A host that does not resolve is a `network_error`.
 * yt-dlp resolves the name again, so this narrows DNS rebinding but cannot rule it out.
 */
export async function assertPublicHost(url: MediaUrl | string, policy: UrlPolicy, lookup: LookupFn = defaultLookup): Promise<void> {
  const host = hostKey(new URL(url).hostname);
  if (isExplicitlyListed(host, policy)) return;
  if (isIP(host) !== 0) {
    if (isPrivateAddress(host)) throw invalidUrl(`address ${host} is not public`);
    return;
  }
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true });
  } catch (err) {
    throw new AppError('network_error', { detail: `cannot resolve ${host}`, cause: err });
  }
  if (addresses.length === 0) throw new AppError('network_error', { detail: `cannot resolve ${host}` });
  const bad = addresses.find((a) => isPrivateAddress(a.address));
  if (bad) throw invalidUrl(`host ${host} resolves to non-public ${bad.address}`);
}

/**
 * The form of a URL used as a cache key: lower-case host, no default port, no fragment, query
 * parameters sorted. Parsed MediaUrls are already canonical for YouTube.
 */
export function normalizeMediaUrl(url: MediaUrl | string): string {
  const u = new URL(url);
  u.hash = '';
  u.searchParams.sort();
  return u.href;
}
