import { describe, expect, it } from 'vitest';
import { isWellFormedToken, newFileToken } from '../../src/files/token.js';

describe('file tokens', () => {
  it('are 43 base64url characters decoding to 32 bytes', () => {
    const token = newFileToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
  });

  it('are different every time', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => newFileToken()));
    expect(tokens.size).toBe(1000);
  });

  it('are all recognised as well formed', () => {
    for (let i = 0; i < 1000; i++) expect(isWellFormedToken(newFileToken())).toBe(true);
  });

  it.each([
    ['too short', 'a'.repeat(42)],
    ['too long', 'a'.repeat(44)],
    ['padding', `${'a'.repeat(42)}=`],
    ['standard base64 characters', `${'a'.repeat(41)}+A`],
    ['a last character that 32 bytes cannot end with', `${'a'.repeat(42)}B`],
    ['a path', '../../../../../../../../../../etc/passwd.mp4'],
    ['empty', ''],
  ])('refuses %s', (_what, value) => {
    expect(isWellFormedToken(value)).toBe(false);
  });

  it('refuses non-strings', () => {
    expect(isWellFormedToken(undefined)).toBe(false);
    expect(isWellFormedToken(42)).toBe(false);
  });
});
