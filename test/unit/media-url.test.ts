import { describe, expect, it } from 'vitest';
import { AppError, type ErrorCategory } from '../../src/errors.js';
import {
  assertPublicHost,
  isPrivateAddress,
  normalizeMediaUrl,
  parseMediaUrl,
  type LookupFn,
  type UrlPolicy,
} from '../../src/videos/media-url.js';

const YOUTUBE: UrlPolicy = { allowedHosts: ['youtube.com', 'www.youtube.com', 'm.youtube.com', 'music.youtube.com', 'youtu.be'] };
const ANY: UrlPolicy = { allowedHosts: '*' };
const LOOPBACK: UrlPolicy = { allowedHosts: ['127.0.0.1'] };
const ID = 'dQw4w9WgXcQ';
const CANONICAL = `https://www.youtube.com/watch?v=${ID}`;

function categoryOf(fn: () => unknown): ErrorCategory | null {
  try {
    fn();
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return (err as AppError).category;
  }
}

async function asyncCategoryOf(promise: Promise<unknown>): Promise<ErrorCategory | null> {
  try {
    await promise;
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return (err as AppError).category;
  }
}

describe('parseMediaUrl with the YouTube hosts', () => {
  it.each([
    `https://www.youtube.com/watch?v=${ID}`,
    `http://youtube.com/watch?v=${ID}`,
    `https://m.youtube.com/watch?v=${ID}`,
    `https://music.youtube.com/watch?v=${ID}&feature=share`,
    `https://www.youtube.com/watch?v=${ID}&list=PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf&index=3`,
    `https://www.youtube.com/watch?list=PLx&v=${ID}`,
    `https://www.youtube.com/shorts/${ID}`,
    `https://www.youtube.com/live/${ID}?si=abc`,
    `https://www.youtube.com/embed/${ID}`,
    `https://youtu.be/${ID}`,
    `https://youtu.be/${ID}?si=xyz&list=PLx`,
    `  https://youtu.be/${ID}  `,
    `https://WWW.YouTube.com/watch?v=${ID}#t=10`,
    `https://www.youtube.com./watch?v=${ID}`,
  ])('accepts %s as the single video', (input) => {
    expect(parseMediaUrl(input, YOUTUBE)).toBe(CANONICAL);
  });

  it('keeps a start time', () => {
    expect(parseMediaUrl(`https://youtu.be/${ID}?t=42`, YOUTUBE)).toBe(`${CANONICAL}&t=42`);
  });

  it.each([
    'https://www.youtube.com/playlist?list=PLx',
    'https://www.youtube.com/channel/UCx',
    'https://www.youtube.com/@someone',
    'https://www.youtube.com/watch?v=short',
    'https://www.youtube.com/watch',
    'https://youtu.be/',
    `https://www.youtube.com/shorts/${ID}/extra`,
    `https://evil.com/watch?v=${ID}`,
    `https://youtube.com.evil.com/watch?v=${ID}`,
    `https://www.youtube.co/watch?v=${ID}`,
    `ftp://www.youtube.com/watch?v=${ID}`,
    `javascript:alert(1)`,
    `file:///etc/passwd`,
    `https://user:pass@www.youtube.com/watch?v=${ID}`,
    `https://www.youtube.com/watch?v=${ID} x`,
    `https://www.youtube.com/watch?v=${ID}\u0000`,
    `https://www.youtube.com/watch?v=${ID}\n`.replace('\n', '\nx'),
    'not a url',
    `https://www.youtube.com/watch?v=${ID}&x=${'a'.repeat(2048)}`,
  ])('refuses %s as invalid_url', (input) => {
    expect(categoryOf(() => parseMediaUrl(input, YOUTUBE))).toBe('invalid_url');
  });

  it.each([undefined, null, '', '   ', 42, {}, ['https://youtu.be/x']])('refuses %j as invalid_request', (input) => {
    let fields: Record<string, string> | undefined;
    try {
      parseMediaUrl(input, YOUTUBE);
    } catch (err) {
      expect((err as AppError).category).toBe('invalid_request');
      fields = (err as AppError).fields;
    }
    expect(fields?.url).toBeTruthy();
  });
});

describe('parseMediaUrl with other hosts', () => {
  it('accepts a listed host and keeps the URL, without its fragment', () => {
    expect(parseMediaUrl('http://127.0.0.1:4000/dash/manifest.mpd?x=1#frag', LOOPBACK)).toBe('http://127.0.0.1:4000/dash/manifest.mpd?x=1');
  });

  it('accepts any public host with *', () => {
    expect(parseMediaUrl('https://vimeo.com/123', ANY)).toBe('https://vimeo.com/123');
    expect(parseMediaUrl('https://93.184.216.34/v.mp4', ANY)).toBe('https://93.184.216.34/v.mp4');
  });

  it('matches *.example.com entries to subdomains only', () => {
    const policy: UrlPolicy = { allowedHosts: ['*.example.com'] };
    expect(parseMediaUrl('https://cdn.example.com/a.mp4', policy)).toBe('https://cdn.example.com/a.mp4');
    expect(categoryOf(() => parseMediaUrl('https://example.com/a.mp4', policy))).toBe('invalid_url');
    expect(categoryOf(() => parseMediaUrl('https://badexample.com/a.mp4', policy))).toBe('invalid_url');
  });

  it.each([
    'http://127.0.0.1/',
    'http://2130706433/',
    'http://0177.0.0.1/',
    'http://0x7f.1/',
    'http://127.1/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/',
    'http://10.0.0.1/',
    'http://192.168.1.1/',
    'http://172.16.0.1/',
    'http://100.64.0.1/',
    'http://0.0.0.0/',
    'http://[fe80::1]/',
    'http://[::]/',
    'http://[64:ff9b::a9fe:a9fe]/',
    'http://[2002:7f00:1::]/',
  ])('refuses the non-public address %s even with *', (input) => {
    expect(categoryOf(() => parseMediaUrl(input, ANY))).toBe('invalid_url');
  });

  it.each([
    ['http://127.0.0.1:9/x', ['127.0.0.1']],
    ['http://[::1]:9/x', ['::1']],
    ['http://[::1]:9/x', ['[::1]']],
    ['http://2130706433/x', ['127.0.0.1']],
  ])('accepts %s when that host is listed (%j)', (input, hosts) => {
    expect(() => parseMediaUrl(input, { allowedHosts: hosts })).not.toThrow();
  });

  it('refuses an address that is not the listed one', () => {
    expect(categoryOf(() => parseMediaUrl('http://127.0.0.2/', LOOPBACK))).toBe('invalid_url');
  });
});

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1', '127.255.255.254', '10.1.2.3', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.100.100.200',
    '0.0.0.0', '224.0.0.1', '255.255.255.255', '192.0.2.1', '198.18.0.1',
    '::1', '::', 'fc00::1', 'fd00:ec2::254', 'fe80::1%eth0', 'ff02::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1',
    '::ffff:a9fe:a9fe', '::127.0.0.1', '64:ff9b::10.0.0.1', '2002:c0a8:101::1', '2001:db8::1', '[::1]',
    'not-an-ip', '',
  ])('%s is private', (ip) => {
    expect(isPrivateAddress(ip)).toBe(true);
  });

  it.each(['8.8.8.8', '93.184.216.34', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2a00:1450:4001:82a::200e', '64:ff9b::8.8.8.8'])(
    '%s is public',
    (ip) => {
      expect(isPrivateAddress(ip)).toBe(false);
    },
  );
});

describe('assertPublicHost', () => {
  const lookupTo =
    (...addresses: string[]): LookupFn =>
    async () =>
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('passes a host resolving to public addresses', async () => {
    expect(await asyncCategoryOf(assertPublicHost('https://vimeo.com/1', ANY, lookupTo('151.101.0.217')))).toBeNull();
  });

  it('refuses a host resolving to loopback, private or metadata addresses', async () => {
    for (const address of ['127.0.0.1', '10.0.0.5', '169.254.169.254', '::1', 'fd00:ec2::254']) {
      expect(await asyncCategoryOf(assertPublicHost('https://sneaky.example/1', ANY, lookupTo('8.8.8.8', address)))).toBe('invalid_url');
    }
  });

  it('refuses localhost unless localhost itself is listed', async () => {
    const lookup = lookupTo('127.0.0.1');
    expect(await asyncCategoryOf(assertPublicHost('http://localhost:1/x', { allowedHosts: ['localhost2'] }, lookup))).toBe('invalid_url');
    expect(await asyncCategoryOf(assertPublicHost('http://localhost:1/x', ANY, lookup))).toBe('invalid_url');
    expect(await asyncCategoryOf(assertPublicHost('http://localhost:1/x', { allowedHosts: ['localhost'] }, lookup))).toBeNull();
  });

  it('never resolves a listed host or an IP literal', async () => {
    const lookup: LookupFn = async () => {
      throw new Error('must not be called');
    };
    expect(await asyncCategoryOf(assertPublicHost('http://127.0.0.1:1/x', LOOPBACK, lookup))).toBeNull();
    expect(await asyncCategoryOf(assertPublicHost('http://8.8.8.8/x', ANY, lookup))).toBeNull();
    expect(await asyncCategoryOf(assertPublicHost('http://10.0.0.1/x', ANY, lookup))).toBe('invalid_url');
  });

  it('reports a name that does not resolve as network_error', async () => {
    const lookup: LookupFn = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    expect(await asyncCategoryOf(assertPublicHost('https://nope.invalid/x', ANY, lookup))).toBe('network_error');
  });
});

describe('normalizeMediaUrl', () => {
  it('gives one key for spellings of one URL', () => {
    const a = normalizeMediaUrl('HTTP://Example.COM:80/v.mp4?b=2&a=1#x');
    expect(a).toBe('http://example.com/v.mp4?a=1&b=2');
    expect(normalizeMediaUrl('http://example.com/v.mp4?a=1&b=2')).toBe(a);
  });

  it('keys all YouTube forms of a video alike once parsed', () => {
    const forms = [`https://youtu.be/${ID}`, `https://www.youtube.com/shorts/${ID}`, `https://m.youtube.com/watch?v=${ID}&list=PL1`];
    const keys = new Set(forms.map((f) => normalizeMediaUrl(parseMediaUrl(f, YOUTUBE))));
    expect(keys.size).toBe(1);
  });
});
