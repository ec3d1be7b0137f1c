/**
 * Bad input never gives a 5xx (issue: at least 200 cases over both POST endpoints). Every response
 * to malformed, hostile or absurd input is a 4xx with the SPEC error body.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;

beforeAll(async () => {
  // The default YouTube host list: nothing here may reach yt-dlp, so every case must be refused early.
  t = await startTestApp({ ALLOWED_HOSTS: 'youtube.com,www.youtube.com,youtu.be' }, { roles: ['api'] });
});

afterAll(async () => {
  await t?.close();
});

const ENDPOINTS = ['/api/v1/videos/resolutions', '/api/v1/downloads/'] as const;

const BAD_URLS: unknown[] = [
  '',
  ' ',
  'not a url',
  'youtube.com/watch?v=abc',
  'file:///etc/passwd',
  'ftp://youtube.com/watch?v=abc',
  'javascript:alert(1)',
  'data:text/html,<b>x</b>',
  'http://10.0.0.1/video.mp4',
  'http://192.168.1.1/',
  'http://172.16.0.5/',
  'http://169.254.169.254/latest/meta-data/',
  'http://[fd00:ec2::254]/',
  'http://metadata.google.internal/',
  'http://127.0.0.1/',
  'http://127.0.0.2:8000/',
  'http://localhost/',
  'http://[::1]/',
  'http://[::ffff:127.0.0.1]/',
  'http://2130706433/',
  'http://0177.0.0.1/',
  'http://0x7f.1/',
  'https://evil.example.com/watch?v=abc',
  'https://youtube.com.evil.example/watch?v=abc',
  'https://user:pass@evil.example/',
  `https://www.youtube.com/watch?v=${'a'.repeat(2100)}`,
  'x'.repeat(5000),
  'https://www.youtube.com/watch?v=abc\u0000def',
  'https://www.you\u0000tube.com/watch?v=abc',
  'https://www.youtube.com/watch?v=abc def',
  'https://www.youtube.com/watch?v=🎬🎬🎬',
  'https://ԝԝԝ.youtube.com/watch?v=abc',
  '\u202ehttps://www.youtube.com/watch?v=abc',
  'https://www.youtube.com/',
  'https://www.youtube.com/feed/trending',
  'https://youtu.be/',
  123,
  0,
  -1,
  1.5,
  true,
  false,
  null,
  [],
  ['https://www.youtube.com/watch?v=abc'],
  {},
  { href: 'https://www.youtube.com/watch?v=abc' },
];

const BAD_FORMAT_IDS: unknown[] = [
  '',
  ' ',
  'a b',
  '../../etc/passwd',
  '18;rm -rf /',
  '$(id)',
  '`id`',
  '1+2+3',
  '+',
  '137+',
  '+140',
  'best[height<720]',
  'bestvideo+bestaudio/best',
  'x'.repeat(65),
  `${'x'.repeat(65)}+140`,
  '18\u0000',
  '🎬',
  'é',
  '--exec=id',
  123,
  null,
  true,
  [],
  ['18'],
  { id: '18' },
];

function expectClientError(res: { statusCode: number; body: string }, label: string) {
  expect(res.statusCode, `${label}: ${res.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
  expect(res.statusCode, `${label}: ${res.body.slice(0, 200)}`).toBeLessThan(500);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  for (const key of ['error', 'title', 'message', 'action']) {
    expect(typeof body[key], `${label}: body key ${key}`).toBe('string');
  }
}

async function post(url: string, payload: unknown, contentType = 'application/json') {
  return t.runtime.app!.inject({
    method: 'POST',
    url,
    headers: { 'content-type': contentType },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
}

function label(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 40)}… (${text.length} chars)` : text;
}

const goodUrl = 'https://www.youtube.com/watch?v=dQw4w9WgXcQ';
let cases = 0;

describe.each(ENDPOINTS)('POST %s', (endpoint) => {
  it.each(BAD_URLS.map((u) => [label(u), u]))('refuses url %s', async (_label, url) => {
    cases++;
    expectClientError(await post(endpoint, { url, format_id: '18' }), String(url));
  });

  it('refuses bodies that are not an object with the fields', async () => {
    const bodies: unknown[] = [null, 1, 'x', true, [], [1, 2], {}, { URL: goodUrl }, { url: undefined }, { format_id: '18' }];
    for (const body of bodies) {
      cases++;
      expectClientError(await post(endpoint, body), JSON.stringify(body));
    }
  });

  it('refuses payloads that are not JSON', async () => {
    const raw: [string, string][] = [
      ['{', 'application/json'],
      ['{"url": "x",}', 'application/json'],
      ['url=https://www.youtube.com/watch?v=x', 'application/x-www-form-urlencoded'],
      ['<xml/>', 'application/xml'],
      ['hello', 'text/plain'],
      ['\u0000\u0001\u0002', 'application/octet-stream'],
      ['', 'application/json'],
      ['null', 'application/json'],
      ['"just a string"', 'application/json'],
      [`{"url": "${'a'.repeat(20_000)}"}`, 'application/json'],
    ];
    for (const [payload, type] of raw) {
      cases++;
      expectClientError(await post(endpoint, payload, type), `${type} ${payload.slice(0, 30)}`);
    }
  });

  it('refuses random JSON values as bodies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (body) => {
        cases++;
        // A random value cannot be a body with a valid url, except by astronomically bad luck.
        expectClientError(await post(endpoint, body), JSON.stringify(body).slice(0, 100));
      }),
      { numRuns: 60 },
    );
  });

  it('refuses random strings as URLs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 300 }), fc.webUrl(), fc.string({ unit: 'grapheme', maxLength: 100 })), async (url) => {
        cases++;
        expectClientError(await post(endpoint, { url, format_id: 'best' }), url);
      }),
      { numRuns: 60 },
    );
  });
});

describe('POST /api/v1/downloads/ format ids', () => {
  it.each(BAD_FORMAT_IDS.map((f) => [label(f), f]))('refuses format_id %s', async (_label, formatId) => {
    cases++;
    expectClientError(await post('/api/v1/downloads/', { url: goodUrl, format_id: formatId }), String(formatId));
  });

  it('refuses random format ids outside the charset', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 80 }).filter((s) => !/^[A-Za-z0-9._-]{1,64}(\+[A-Za-z0-9._-]{1,64})?$/.test(s)),
        async (formatId) => {
          cases++;
          expectClientError(await post('/api/v1/downloads/', { url: goodUrl, format_id: formatId }), formatId);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('coverage of the table', () => {
  it('ran at least 200 cases', () => {
    expect(cases).toBeGreaterThanOrEqual(200);
  });
});
