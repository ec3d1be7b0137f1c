import { createHash } from 'node:crypto';
import net from 'node:net';

/**
 * The opaque per-client key stored with jobs and used in rate-limit keys: a hash, so no raw IP
 * is ever stored (SPEC §7, §10).
 */
export function hashClientKey(ipOrKey: string): string {
  return createHash('sha256').update(`ultra-dl:client:${ipOrKey}`).digest('hex').slice(0, 32);
}

/** The address ranges behind `proxy-addr`'s keywords, usable in TRUST_PROXY and the whitelist. */
const KEYWORD_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

interface ParsedEntry {
  address: string;
  family: 'ipv4' | 'ipv6';
  prefix: number;
}

function parseEntry(entry: string): ParsedEntry | null {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const version = net.isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const bits = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return null;
    prefix = Number(bits);
  }
  return { address, family: version === 4 ? 'ipv4' : 'ipv6', prefix };
}

/**
 * The problems of a list of IPs, CIDRs and the keywords `loopback`, `linklocal`, `uniquelocal`
 * (TRUST_PROXY, RATE_LIMIT_WHITELIST); empty when every entry is valid.
 */
export function validateIpList(values: readonly string[], name = 'value'): string[] {
  return values
    .filter((value) => !(value in KEYWORD_RANGES) && parseEntry(value) === null)
    .map(
      (value) =>
        `${name} entry ${JSON.stringify(value)} is not an IP address, a CIDR range or one of ` +
        `${Object.keys(KEYWORD_RANGES).join(', ')}`,
    );
}

/**
 * Fastify's `trustProxy` for a TRUST_PROXY list: the `proxy-addr` list itself (an IP, CIDR or
 * keyword each). An empty list trusts nobody, so forwarded headers are ignored.
 */
export function trustProxyOption(list: readonly string[]): string[] | false {
  const problems = validateIpList(list, 'TRUST_PROXY');
  if (problems.length > 0) throw new Error(problems.join('; '));
  return list.length === 0 ? false : [...list];
}

/** `::ffff:1.2.3.4` is the IPv4 client 1.2.3.4 on a dual-stack socket. */
function unmapIpv4(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped?.[1] ?? ip;
}

/**
 * A forwarded address as a plain IP, accepting the unambiguous `1.2.3.4:5678`, `[::1]` and
 * `[::1]:5678` forms some proxies write; null for anything else.
 */
export function normalizeIp(value: string | undefined): string | null {
  if (!value) return null;
  let ip = value.trim();
  if (ip.length > 64) return null;
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/i.exec(ip);
  const v4WithPort = /^(\d+\.\d+\.\d+\.\d+):\d{1,5}$/.exec(ip);
  if (bracketed?.[1]) ip = bracketed[1];
  else if (v4WithPort?.[1]) ip = v4WithPort[1];
  return net.isIP(ip) === 0 ? null : unmapIpv4(ip).toLowerCase();
}

/** What client resolution reads from a request; Fastify's request has this shape. */
export interface ForwardedRequest {
  /** The client as resolved by `trustProxy`; may be any text a trusted hop forwarded. */
  ip: string;
  /** From the socket peer to the resolved client, through the trusted proxies. */
  ips?: string[];
  socket: { remoteAddress?: string };
}

/**
 * The client IP of a request (SPEC §7): Fastify's `trustProxy` resolution, or, when a trusted hop
 * forwarded something that is not an address, the last trusted hop itself. Never throws, and a
 * client cannot dodge its limits by sending garbage, because garbage never becomes a key.
 */
export function clientIp(request: ForwardedRequest): string {
  const resolved = normalizeIp(request.ip);
  if (resolved) return resolved;
  const hops = request.ips ?? [];
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeIp(hops[i]);
    if (hop) return hop;
  }
  return normalizeIp(request.socket.remoteAddress) ?? 'unknown';
}

/**
 * A matcher for a list of IPs, CIDRs and keywords, IPv4 and IPv6 (RATE_LIMIT_WHITELIST). Invalid
 * entries are rejected by config validation, so they are skipped here.
 */
export function createIpMatcher(list: readonly string[]): (ip: string) => boolean {
  if (list.length === 0) return () => false;
  const blocks = new net.BlockList();
  for (const entry of list.flatMap((value) => KEYWORD_RANGES[value] ?? [value])) {
    const parsed = parseEntry(entry);
    if (parsed) blocks.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return (ip) => {
    const normalized = normalizeIp(ip);
    if (!normalized) return false;
    try {
      return blocks.check(normalized, net.isIP(normalized) === 4 ? 'ipv4' : 'ipv6');
    } catch {
      // An address Node parses but BlockList does not is simply not whitelisted.
      return false;
    }
  };
}
