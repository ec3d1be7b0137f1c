import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import {
  clientIp,
  createIpMatcher,
  hashClientKey,
  normalizeIp,
  trustProxyOption,
  validateIpList,
} from '../../src/ratelimit/client-ip.js';

describe('validateIpList', () => {
  it('accepts IPs, CIDRs of both families and the proxy-addr keywords', () => {
    expect(
      validateIpList(['127.0.0.1', '10.0.0.0/8', '::1', '2001:db8::/32', 'fe80::1/128', 'loopback', 'linklocal', 'uniquelocal', '0.0.0.0/0']),
    ).toEqual([]);
  });

  it('names every bad entry with the variable', () => {
    const problems = validateIpList(['10.0.0.1', 'not-an-ip', '10.0.0.0/33', '::1/129', '1.2.3.4/', 'localhost'], 'TRUST_PROXY');
    expect(problems).toHaveLength(5);
    for (const bad of ['not-an-ip', '10.0.0.0/33', '::1/129', '1.2.3.4/', 'localhost']) {
      expect(problems.some((p) => p.startsWith(`TRUST_PROXY entry "${bad}"`))).toBe(true);
    }
  });
});

describe('trustProxyOption', () => {
  it('passes a valid list through and trusts nobody for an empty list', () => {
    expect(trustProxyOption(['loopback', '10.0.0.0/8'])).toEqual(['loopback', '10.0.0.0/8']);
    expect(trustProxyOption([])).toBe(false);
  });

  it('throws on an invalid entry instead of trusting by accident', () => {
    expect(() => trustProxyOption(['everyone'])).toThrow(/TRUST_PROXY entry "everyone"/);
  });
});

describe('normalizeIp', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    [' 1.2.3.4 ', '1.2.3.4'],
    ['1.2.3.4:5678', '1.2.3.4'],
    ['[::1]', '::1'],
    ['[2001:DB8::1]:443', '2001:db8::1'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['2001:db8::1', '2001:db8::1'],
  ])('%j is %j', (input, expected) => {
    expect(normalizeIp(input)).toBe(expected);
  });

  it.each(['not-an-ip', '', '1.2.3', '1.2.3.4.5', '999.1.1.1', '[nope]', 'x'.repeat(10_240), '1.2.3.4:notaport'])(
    'rejects %j',
    (input) => {
      expect(normalizeIp(input)).toBeNull();
    },
  );
});

describe('createIpMatcher (RATE_LIMIT_WHITELIST)', () => {
  const matches = createIpMatcher(['192.168.1.100', '10.0.0.0/8', '2001:db8::/32', '::1']);

  it('matches single IPs and CIDR ranges, IPv4 and IPv6', () => {
    expect(matches('192.168.1.100')).toBe(true);
    expect(matches('10.200.3.4')).toBe(true);
    expect(matches('2001:db8:1::5')).toBe(true);
    expect(matches('::1')).toBe(true);
    expect(matches('::ffff:10.0.0.7')).toBe(true);
  });

  it('does not match neighbours or garbage', () => {
    expect(matches('192.168.1.101')).toBe(false);
    expect(matches('11.0.0.1')).toBe(false);
    expect(matches('2001:db9::1')).toBe(false);
    expect(matches('127.0.0.1')).toBe(false);
    expect(matches('not-an-ip')).toBe(false);
  });

  it('understands the keywords, and an empty list matches nobody', () => {
    const loopback = createIpMatcher(['loopback']);
    expect(loopback('127.5.5.5')).toBe(true);
    expect(loopback('::1')).toBe(true);
    expect(loopback('8.8.8.8')).toBe(false);
    expect(createIpMatcher([])('127.0.0.1')).toBe(false);
  });
});

describe('hashClientKey', () => {
  it('never contains the raw IP and is stable per client', () => {
    const h = hashClientKey('203.0.113.9');
    expect(h).toMatch(/^[0-9a-f]{32}$/);
    expect(h).not.toContain('203');
    expect(hashClientKey('203.0.113.9')).toBe(h);
    expect(hashClientKey('203.0.113.10')).not.toBe(h);
  });
});

describe('clientIp through Fastify trustProxy', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function appTrusting(list: string[]): Promise<FastifyInstance> {
    app = Fastify({ trustProxy: trustProxyOption(list) });
    app.get('/ip', async (request) => ({ ip: clientIp(request) }));
    await app.ready();
    return app;
  }

  const ipOf = async (a: FastifyInstance, remoteAddress: string, xff?: string) => {
    const res = await a.inject({ url: '/ip', remoteAddress, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } });
    expect(res.statusCode).toBe(200);
    return (res.json() as { ip: string }).ip;
  };

  it('takes the forwarded client from a trusted loopback proxy (the default)', async () => {
    const a = await appTrusting(['loopback']);
    expect(await ipOf(a, '127.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
    expect(await ipOf(a, '127.0.0.1', '198.51.100.1, 203.0.113.9')).toBe('203.0.113.9');
  });

  it('ignores X-Forwarded-For from an untrusted (LAN) address', async () => {
    const a = await appTrusting(['loopback']);
    expect(await ipOf(a, '192.168.1.5', '203.0.113.9')).toBe('192.168.1.5');
    expect(await ipOf(a, '192.168.1.5', '127.0.0.1')).toBe('192.168.1.5');
  });

  it('walks through every trusted proxy of a configured network', async () => {
    const a = await appTrusting(['10.0.0.0/8']);
    expect(await ipOf(a, '10.0.0.2', '203.0.113.9, 10.0.0.3')).toBe('203.0.113.9');
    expect(await ipOf(a, '192.168.1.5', '203.0.113.9')).toBe('192.168.1.5');
  });

  it('trusts nobody with an empty TRUST_PROXY', async () => {
    const a = await appTrusting([]);
    expect(await ipOf(a, '127.0.0.1', '203.0.113.9')).toBe('127.0.0.1');
  });

  it('never fails on a malformed X-Forwarded-For and never keys on the garbage', async () => {
    const a = await appTrusting(['loopback']);
    expect(await ipOf(a, '127.0.0.1', 'not-an-ip')).toBe('127.0.0.1');
    expect(await ipOf(a, '127.0.0.1', '1.2.3.4:5678')).toBe('1.2.3.4');
    expect(await ipOf(a, '127.0.0.1', '[::1]')).toBe('::1');
    expect(await ipOf(a, '127.0.0.1', 'x'.repeat(10_240))).toBe('127.0.0.1');
    expect(await ipOf(a, '127.0.0.1', ',,, ,')).toBe('127.0.0.1');
    expect(await ipOf(a, '127.0.0.1', '203.0.113.9, garbage')).toBe('127.0.0.1');
  });

  it('falls back to the trusted hop that reported the garbage', async () => {
    const a = await appTrusting(['loopback', '10.0.0.0/8']);
    expect(await ipOf(a, '127.0.0.1', 'garbage, 10.0.0.7')).toBe('10.0.0.7');
  });
});
