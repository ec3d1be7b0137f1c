/**
 * yt-dlp argument lists (SPEC §3, §10), pure. Only validated values reach them, each as its own
 * argv element (never through a shell), and the URL always follows `--`.
 */
import type { YtdlpFeatures } from './ytdlp-probe.js';

/** Marks our JSON progress lines among yt-dlp's other stdout lines. */
export const PROGRESS_PREFIX = '[ultradl-progress] ';

/**
 * One JSON object per line: the format being fetched (tells the parts of `A+B` apart) and yt-dlp's
 * progress dict. Both fields use `j`, so titles with quotes or newlines cannot break the line.
 */
export const PROGRESS_TEMPLATE = `download:${PROGRESS_PREFIX}{"format_id":%(info.format_id)j,"progress":%(progress)j}`;

/**
 * Output name inside the job's work directory. Titles stay unicode (the file is served through a
 * token with an RFC 6266 `filename*`, so the name on disk only has to be valid), bounded to 150
 * bytes so long titles stay under the 255-byte file-name limit; the id keeps names unique.
 */
export const OUTPUT_TEMPLATE = '%(title).150B [%(id).40B].%(ext)s';

/** How often (seconds) newer yt-dlp prints progress; we throttle again when publishing. */
const PROGRESS_DELTA_SECONDS = 0.25;

export interface CommonArgsOptions {
  features: YtdlpFeatures;
  cookiesFile?: string | null;
  proxy?: string | null;
}

export interface DownloadArgsOptions extends CommonArgsOptions {
  /** Required unless `infoJsonFile` is given: yt-dlp then takes everything from that file. */
  url: string | null;
  formatId: string;
  /** The per-job directory every output file goes to. */
  workDir: string;
  /** Where yt-dlp writes the final path (`--print-to-file after_move:filepath`). */
  finalPathFile: string;
  /** A saved `-J` document (`--load-info-json`), so the URL is not extracted again. */
  infoJsonFile?: string | null;
  maxFilesize?: number | null;
  /** Absolute ffmpeg path; yt-dlp does not search PATH for `--ffmpeg-location`. */
  ffmpegLocation?: string | null;
  /** Parallel DASH/HLS fragment downloads (`-N`); yt-dlp's default (1) when unset. */
  concurrentFragments?: number | null;
}

/** yt-dlp expands `%(...)s` in paths of `--print-to-file`; a literal `%` must be doubled. */
export function escapeTemplate(text: string): string {
  return text.replace(/%/g, '%%');
}

function assertUrl(url: string): void {
  // Defence in depth: parseMediaUrl already guarantees this; an option-looking URL must never pass.
  if (!/^https?:\/\//i.test(url)) throw new Error(`refusing to pass a non-http(s) URL to yt-dlp`);
}

export function commonArgs(opts: CommonArgsOptions): string[] {
  const args = ['--ignore-config', '--no-playlist', '--newline'];
  if (opts.features.jsRuntimes) args.push('--js-runtimes', 'node');
  if (opts.cookiesFile) args.push('--cookies', opts.cookiesFile);
  if (opts.proxy) args.push('--proxy', opts.proxy);
  return args;
}

/** `yt-dlp -J` of one video. */
export function infoArgs(url: string, opts: CommonArgsOptions): string[] {
  assertUrl(url);
  return [...commonArgs(opts), '-J', '--', url];
}

export function downloadArgs(opts: DownloadArgsOptions): string[] {
  const args = commonArgs(opts);
  args.push('-f', opts.formatId);
  if (opts.formatId.includes('+')) args.push('--merge-output-format', 'mp4');
  args.push('-P', opts.workDir, '-o', OUTPUT_TEMPLATE);
  // Upstream Last-Modified would back-date the file, and the work-dir sweep goes by age.
  args.push('--no-mtime');
  args.push('--progress-template', PROGRESS_TEMPLATE);
  if (opts.features.progressDelta) args.push('--progress-delta', String(PROGRESS_DELTA_SECONDS));
  args.push('--print-to-file', 'after_move:filepath', escapeTemplate(opts.finalPathFile));
  if (opts.maxFilesize != null) args.push('--max-filesize', String(opts.maxFilesize));
  if (opts.ffmpegLocation) args.push('--ffmpeg-location', opts.ffmpegLocation);
  if (opts.concurrentFragments != null && opts.concurrentFragments > 1) {
    args.push('--concurrent-fragments', String(opts.concurrentFragments));
  }
  if (opts.infoJsonFile) {
    // With --load-info-json yt-dlp needs no URL; giving one too would download it a second time.
    args.push('--load-info-json', opts.infoJsonFile);
    return args;
  }
  if (!opts.url) throw new Error('downloadArgs needs a url or an infoJsonFile');
  assertUrl(opts.url);
  args.push('--', opts.url);
  return args;
}
