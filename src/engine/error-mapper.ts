/**
 * yt-dlp's output → an error category (SPEC §6). Ordered rules, first match wins: specific
 * causes (size, geography, privacy, login) come before the generic HTTP statuses that often
 * accompany them, so a 403 that names a login is `login_required`, not `video_unavailable`.
 */
import type { ErrorCategory } from '../errors.js';

export interface ErrorRule {
  category: ErrorCategory;
  pattern: RegExp;
}

export const ERROR_RULES: readonly ErrorRule[] = [
  // Printed on stdout (not as ERROR) when yt-dlp aborts a download over --max-filesize.
  { category: 'file_too_large', pattern: /File is larger than max-filesize|larger than the maximum allowed/i },
  {
    category: 'geo_blocked',
    pattern:
      /not made this video available in your country|not available in your (country|region|location)|geo[- ]?restrict|geo[- ]?block|geographic|from your location/i,
  },
  {
    category: 'video_unavailable',
    pattern: /Private video|This video is private|This video has been removed|has been terminated|no longer available|video has been deleted/i,
  },
  {
    category: 'login_required',
    pattern:
      /Sign in to confirm|confirm your age|age[- ]restricted|inappropriate for some users|members[- ]only|Join this channel|requires? (a )?(login|sign[- ]in|authentication|subscription)|login required|--cookies|use --username|Premium members/i,
  },
  { category: 'platform_rate_limited', pattern: /HTTP Error 429|Too Many Requests|rate[- ]limit/i },
  { category: 'format_not_supported', pattern: /Requested format is not available|requested formats? (is|are) not available|format not available/i },
  { category: 'invalid_url', pattern: /Unsupported URL|is not a valid URL|Invalid URL|no suitable InfoExtractor/i },
  {
    category: 'video_unavailable',
    pattern: /HTTP Error 40[34]|HTTP Error 410|Video unavailable|This video is unavailable|does not exist|This live event will begin|Premieres in/i,
  },
  {
    category: 'network_error',
    pattern:
      /timed out|time[- ]?out|Connection refused|Connection reset|Connection aborted|Remote end closed connection|Name or service not known|Temporary failure in name resolution|nodename nor servname|getaddrinfo|No route to host|Network is unreachable|urlopen error|IncompleteRead|SSL: |EOF occurred in violation|\[Errno (-2|-3|-5|101|104|110|111|113)\]/i,
  },
];

/** The lines yt-dlp marks as the error, or the whole text when none is marked. */
function errorLines(output: string): string[] {
  const lines = output.split(/\r?\n/);
  const marked = lines.filter((line) => /^ERROR:|File is larger than max-filesize/.test(line));
  return marked.length > 0 ? marked : lines;
}

/** Maps yt-dlp's stderr (and stdout, for the max-filesize notice) to a SPEC §6 category. */
export function mapYtdlpError(output: string): ErrorCategory {
  const text = errorLines(output).join('\n');
  for (const rule of ERROR_RULES) {
    if (rule.pattern.test(text)) return rule.category;
  }
  return 'download_failed';
}

/** The last `ERROR:` line of yt-dlp's output without its prefix, for logs; null when there is none. */
export function lastErrorLine(output: string): string | null {
  const lines = output.split(/\r?\n/).filter((line) => line.startsWith('ERROR:'));
  const last = lines[lines.length - 1];
  return last ? last.slice('ERROR:'.length).trim() : null;
}
