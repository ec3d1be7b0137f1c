import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FALLBACK_FILE_NAME,
  MAX_FILE_NAME_CHARS,
  asciiFallback,
  attachmentDisposition,
  encodeRfc8187,
  sanitizeFileName,
} from '../../src/files/content-disposition.js';

/** Decodes `filename*=UTF-8''…` the way a browser does. */
function extendedName(header: string): string {
  const match = /filename\*=UTF-8''([^;]*)$/.exec(header);
  if (!match) throw new Error(`no filename* in ${header}`);
  return decodeURIComponent(match[1]!);
}

function plainName(header: string): string {
  const match = /filename="([^"]*)"/.exec(header);
  if (!match) throw new Error(`no filename in ${header}`);
  return match[1]!;
}

describe('attachmentDisposition', () => {
  it('gives an ASCII name both ways', () => {
    expect(attachmentDisposition('My Video.mp4')).toBe(
      `attachment; filename="My Video.mp4"; filename*=UTF-8''My%20Video.mp4`,
    );
  });

  it('keeps a non-ASCII title in filename* and transliterates the fallback', () => {
    const header = attachmentDisposition('Café – 日本語 video.mp4');
    expect(extendedName(header)).toBe('Café – 日本語 video.mp4');
    expect(plainName(header)).toBe('Cafe _ _ video.mp4');
  });

  it('removes quotes, control characters and path separators', () => {
    const header = attachmentDisposition('a"b\r\nSet-Cookie: x\u0000/..\\evil.mp4');
    expect(header).not.toMatch(/[\r\n\0]/);
    expect(plainName(header)).toBe('abSet-Cookie: x_.._evil.mp4');
    expect(extendedName(header)).toBe('abSet-Cookie: x_.._evil.mp4');
  });

  it('keeps separators out of the ASCII fallback after compatibility decomposition', () => {
    expect(plainName(attachmentDisposition('℀ ＂x＂.mp4'))).toBe('a_c _x_.mp4');
  });

  it('removes bidi overrides that could disguise the extension', () => {
    expect(sanitizeFileName('invoice\u202Egpj.exe')).toBe('invoicegpj.exe');
  });

  it('falls back to a fixed name when nothing printable is left', () => {
    expect(sanitizeFileName('\u0000\u0001 ...')).toBe(FALLBACK_FILE_NAME);
    expect(plainName(attachmentDisposition('日本語'))).toBe(FALLBACK_FILE_NAME);
    expect(plainName(attachmentDisposition('日本語.mp4'))).toBe(`${FALLBACK_FILE_NAME}.mp4`);
    expect(asciiFallback('')).toBe(FALLBACK_FILE_NAME);
  });

  it('cuts long names but keeps the extension', () => {
    const clean = sanitizeFileName(`${'é'.repeat(500)}.webm`);
    expect([...clean]).toHaveLength(MAX_FILE_NAME_CHARS);
    expect(clean.endsWith('é.webm')).toBe(true);
  });

  it('percent-encodes every character outside RFC 8187 attr-char', () => {
    expect(encodeRfc8187("a b'()*%;,é")).toBe('a%20b%27%28%29%2A%25%3B%2Cé'.replace('é', '%C3%A9'));
    expect(encodeRfc8187('!#$&+-.^_`|~')).toBe('!#$&+-.^_`|~');
  });

  it('always yields a header Node accepts, whose filename* round-trips the cleaned name', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ maxLength: 20 }), (a, b) => {
        const name = a + b;
        const header = attachmentDisposition(name);
        // Printable ASCII only: what a header can carry without mangling.
        expect(header).toMatch(/^[\x20-\x7e]+$/);
        expect(plainName(header)).not.toMatch(/["\\/]/);
        expect(extendedName(header)).toBe(sanitizeFileName(name));
      }),
      { numRuns: 500 },
    );
  });
});
