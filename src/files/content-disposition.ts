/**
 * `Content-Disposition: attachment` for a download name (RFC 6266, with RFC 8187/5987 `filename*`).
 * Titles are user-controlled text from the video site, so the name is cleaned before it reaches a
 * header: no quotes, control characters or path separators, and a plain-ASCII fallback for old
 * clients.
 */

/** Used when nothing printable is left of a name. */
export const FALLBACK_FILE_NAME = 'download';

/** Long names are cut (keeping the extension): file systems stop at 255 bytes, headers should too. */
export const MAX_FILE_NAME_CHARS = 180;

// C0/C1 controls, DEL, and Unicode line/paragraph separators and bidi overrides, which can disguise
// an extension ("gpj.exe" shown as "exe.jpg").
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const SEPARATORS = /[/\\]/g;
const QUOTES = /["]/g;
// RFC 8187 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
const ATTR_CHAR = /[A-Za-z0-9!#$&+\-.^_`|~]/;

/** The name as it may be shown: unsafe characters removed, separators replaced, length bounded. */
export function sanitizeFileName(name: string): string {
  let clean = name
    .normalize('NFC')
    .replace(UNSAFE_CHARS, '')
    .replace(SEPARATORS, '_')
    .replace(QUOTES, '')
    .replace(/\s+/g, ' ')
    .trim()
    // A leading dot would make a hidden file; trailing dots and spaces are dropped by Windows.
    .replace(/^\.+/, '')
    .replace(/[. ]+$/, '');
  const chars = [...clean];
  if (chars.length > MAX_FILE_NAME_CHARS) {
    const dot = clean.lastIndexOf('.');
    const ext = dot > 0 && clean.length - dot <= 10 ? clean.slice(dot) : '';
    clean = chars.slice(0, MAX_FILE_NAME_CHARS - [...ext].length).join('').trimEnd() + ext;
  }
  return clean === '' ? FALLBACK_FILE_NAME : clean;
}

/** A printable-ASCII stand-in for the `filename` parameter: accents dropped, other characters `_`. */
export function asciiFallback(cleanName: string): string {
  const ascii = cleanName
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]/g, '_')
    // Compatibility decomposition can bring separators and quotes back ("℀" becomes "a/c").
    .replace(/["\\/]/g, '_');
  const collapsed = ascii.replace(/_+/g, '_').trim();
  // A title in another script leaves only underscores: "download.mp4" reads better than "_.mp4".
  const dot = collapsed.lastIndexOf('.');
  const stem = dot > 0 ? collapsed.slice(0, dot) : collapsed;
  const ext = dot > 0 ? collapsed.slice(dot) : '';
  return /[A-Za-z0-9]/.test(stem) ? collapsed : FALLBACK_FILE_NAME + ext;
}

/** RFC 8187 percent-encoding of the UTF-8 bytes of every character that is not an attr-char. */
export function encodeRfc8187(value: string): string {
  let out = '';
  for (const char of value) {
    if (ATTR_CHAR.test(char)) {
      out += char;
    } else {
      for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

/** `attachment; filename="<ascii>"; filename*=UTF-8''<pct-encoded>` for a download name. */
export function attachmentDisposition(name: string): string {
  const clean = sanitizeFileName(name);
  return `attachment; filename="${asciiFallback(clean)}"; filename*=UTF-8''${encodeRfc8187(clean)}`;
}
