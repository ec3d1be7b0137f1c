import { describe, expect, it } from 'vitest';
import { lastErrorLine, mapYtdlpError } from '../../src/engine/error-mapper.js';
import type { ErrorCategory } from '../../src/errors.js';

const REPORT =
  '; please report this issue on  https://github.com/yt-dlp/yt-dlp/issues?q= , filling out the appropriate issue template. Confirm you are on the latest version using  yt-dlp -U';

// Lines printed by yt-dlp 2023.03.04 against the test media server's error routes, and well-known
// YouTube messages of current yt-dlp releases.
const CASES: [string, ErrorCategory][] = [
  [`ERROR: [generic] None: Unable to download webpage: HTTP Error 404: Not Found (caused by <HTTPError 404: 'Not Found'>)${REPORT}`, 'video_unavailable'],
  [`ERROR: [generic] None: Unable to download webpage: HTTP Error 403: Forbidden (caused by <HTTPError 403: 'Forbidden'>)${REPORT}`, 'video_unavailable'],
  ['ERROR: unable to download video data: HTTP Error 403: Forbidden', 'video_unavailable'],
  [`ERROR: [generic] None: Unable to download webpage: HTTP Error 429: Too Many Requests (caused by <HTTPError 429: 'Too Many Requests'>)${REPORT}`, 'platform_rate_limited'],
  [`ERROR: [generic] None: Unable to download webpage: HTTP Error 500: Internal Server Error (caused by <HTTPError 500: 'Internal Server Error'>)${REPORT}`, 'download_failed'],
  [`ERROR: [generic] None: Unable to download webpage: Remote end closed connection without response (caused by RemoteDisconnected('Remote end closed connection without response'))${REPORT}`, 'network_error'],
  ['ERROR: [download] Got error: Remote end closed connection without response. Giving up after 10 retries', 'network_error'],
  ["ERROR: [generic] None: Unable to download webpage: <urlopen error [Errno 111] Connection refused> (caused by URLError(ConnectionRefusedError(111, 'Connection refused')))", 'network_error'],
  ["ERROR: [generic] None: Unable to download webpage: <urlopen error [Errno -2] Name or service not known> (caused by URLError(gaierror(-2, 'Name or service not known')))", 'network_error'],
  ['ERROR: [youtube] abc: Unable to download API page: <urlopen error [Errno -3] Temporary failure in name resolution>', 'network_error'],
  ['ERROR: [youtube] abc: Unable to download webpage: The read operation timed out', 'network_error'],
  ['ERROR: unable to download video data: [Errno 104] Connection reset by peer', 'network_error'],
  ['ERROR: [generic] video: Requested format is not available. Use --list-formats for a list of available formats', 'format_not_supported'],
  ["ERROR: [youtube] dQw4w9WgXcQ: Requested format is not available. Use --list-formats for a list of available formats", 'format_not_supported'],
  ["ERROR: Unsupported URL: https://example.com/", 'invalid_url'],
  ["ERROR: [youtube] xyz12345678: Private video. Sign in if you've been granted access to this video", 'video_unavailable'],
  ['ERROR: [youtube] xyz12345678: Video unavailable', 'video_unavailable'],
  ['ERROR: [youtube] xyz12345678: Video unavailable. This video has been removed by the uploader', 'video_unavailable'],
  ['ERROR: [youtube] xyz12345678: This video has been removed for violating YouTube\'s Terms of Service', 'video_unavailable'],
  ['ERROR: [youtube] xyz12345678: Video unavailable. This video is no longer available because the YouTube account associated with this video has been terminated.', 'video_unavailable'],
  ['ERROR: [youtube] xyz12345678: This live event will begin in 3 hours.', 'video_unavailable'],
  ['ERROR: [youtube] xyz12345678: Sign in to confirm your age. This video may be inappropriate for some users.', 'login_required'],
  ["ERROR: [youtube] xyz12345678: Sign in to confirm you're not a bot. Use --cookies-from-browser or --cookies for the authentication.", 'login_required'],
  ['ERROR: [youtube] xyz12345678: Join this channel to get access to members-only content like this video, and other exclusive perks.', 'login_required'],
  ['ERROR: [youtube] xyz12345678: This video is available to this channel\'s members on level: Member (or any higher level). Join this channel to get access to members-only content and other exclusive perks.', 'login_required'],
  ['ERROR: [youtube] xyz12345678: The uploader has not made this video available in your country', 'geo_blocked'],
  ['ERROR: [youtube] xyz12345678: Video unavailable. The uploader has not made this video available in your country', 'geo_blocked'],
  ['ERROR: [vimeo] 123: This video is not available in your country due to geo restriction', 'geo_blocked'],
  ['ERROR: unable to download video data: HTTP Error 403: Forbidden: this video is geo-restricted', 'geo_blocked'],
  ['ERROR: [youtube] xyz12345678: HTTP Error 403: Forbidden. Login required to view this video', 'login_required'],
  ['ERROR: [youtube] xyz12345678: HTTP Error 429: Too Many Requests', 'platform_rate_limited'],
  ['\r[download] File is larger than max-filesize (1089350 bytes > 102400 bytes). Aborting.', 'file_too_large'],
  ['ERROR: Postprocessing: Conversion failed!', 'download_failed'],
  ['ERROR: [Errno 2] No such file or directory: \'ffmpeg\'', 'download_failed'],
  ['', 'download_failed'],
];

describe('mapYtdlpError', () => {
  it.each(CASES)('%s → %s', (stderr, category) => {
    expect(mapYtdlpError(stderr)).toBe(category);
  });

  it('judges by the ERROR line, not by warnings before it', () => {
    const stderr = [
      'WARNING: [youtube] Unable to download webpage: HTTP Error 429: Too Many Requests; retrying',
      'WARNING: [generic] Falling back on generic information extractor',
      'ERROR: [youtube] xyz12345678: Requested format is not available. Use --list-formats for a list of available formats',
    ].join('\n');
    expect(mapYtdlpError(stderr)).toBe('format_not_supported');
  });

  it('falls back to the whole text when no line is marked ERROR', () => {
    expect(mapYtdlpError('Traceback (most recent call last):\nsocket.timeout: timed out')).toBe('network_error');
  });

  it('returns the last ERROR line without its prefix', () => {
    expect(lastErrorLine('WARNING: a\nERROR: first\nERROR: second\n')).toBe('second');
    expect(lastErrorLine('WARNING: only a warning')).toBeNull();
  });
});
