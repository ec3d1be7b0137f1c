/**
 * The yt-dlp engine: metadata (`-J`) and downloads with one monotonic progress bar (SPEC §2, §3).
 * Failures are AppErrors with the SPEC §6 category; an abort rejects with the signal's reason.
 * The engine removes nothing: the caller owns and removes the work directory.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { formatSize } from '../videos/format-mapping.js';
import { lastErrorLine, mapYtdlpError } from './error-mapper.js';
import { createPartTracker, partWeights, type YtdlpProgress } from './progress-math.js';
import { downloadArgs, infoArgs, PROGRESS_PREFIX } from './ytdlp-args.js';
import type { YtdlpInfo } from './ytdlp-info.js';
import { resolveExecutable, type YtdlpFeatures } from './ytdlp-probe.js';
import { spawnYtdlp, type RunResult } from './ytdlp-runner.js';

export interface DownloadProgress {
  /** 0–100 float over every part of the download, never decreasing within one call. */
  percentage: number;
  phase: 'downloading' | 'merging';
  /** e.g. `"2.0 MB/s"`, or null. */
  speed: string | null;
  /** Whole seconds left of the current part, or null. */
  eta: number | null;
}

export interface DownloadRequest {
  url: string;
  /** A parsed format id (`A`, `A+B` or a selector). */
  formatId: string;
  /** An existing-or-creatable per-job directory; everything yt-dlp writes goes there. */
  workDir: string;
  /** The cached `-J` document of the URL: reused via `--load-info-json` and for part sizes. */
  infoJson?: YtdlpInfo | null;
  /** The same document already saved to a file (used instead of `infoJson` when given). */
  infoJsonPath?: string | null;
  maxFilesize: number | null;
  timeoutMs: number;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  /** Receives yt-dlp's pid (its process group id) once started. */
  onSpawn?: (pid: number) => void;
}

export interface YtdlpEngineDeps {
  ytdlpPath: string;
  ffmpegPath: string;
  cookiesFile: string | null;
  proxy: string | null;
  features: YtdlpFeatures;
  logger: Logger;
  /** `-N` for DASH/HLS fragments; yt-dlp's default when unset. */
  concurrentFragments?: number | null;
}

/**
 * A `-J` that takes longer is stuck: YouTube answers in seconds, and a user waits on it (the
 * resolutions endpoint), so it is bounded well below the job timeout.
 */
export const EXTRACT_TIMEOUT_MS = 60_000;
/** `-J` of a long YouTube video is a few MB; far more means something is wrong. */
const MAX_INFO_JSON_BYTES = 64 * 1024 * 1024;
const INFO_FILE = '.ultradl-info.json';
const FINAL_PATH_FILE = '.ultradl-final-path';

interface ProgressLine {
  format_id?: string | null;
  progress?: YtdlpProgress;
}

function parseProgressLine(line: string): ProgressLine | null {
  if (!line.startsWith(PROGRESS_PREFIX)) return null;
  try {
    const parsed = JSON.parse(line.slice(PROGRESS_PREFIX.length)) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as ProgressLine) : null;
  } catch {
    return null;
  }
}

/** stdout without our progress lines and file names, which carry titles that could match a rule. */
function stdoutNotices(stdout: string): string {
  return stdout
    .split(/\r?\n|\r/)
    .filter((line) => !line.startsWith(PROGRESS_PREFIX) && !line.startsWith('[download] Destination:'))
    .join('\n');
}

// yt-dlp starts this notice with a carriage return.
const MAX_FILESIZE_NOTICE = /(^|\r)\[download\] File is larger than max-filesize/m;

function failure(result: RunResult, logger: Logger, what: string): AppError {
  const output = `${result.stderr}\n${stdoutNotices(result.stdout)}`;
  const category = mapYtdlpError(output);
  const detail = lastErrorLine(result.stderr) ?? `yt-dlp exited with ${result.exitCode}`;
  logger.warn({ category, exitCode: result.exitCode, error: detail }, `yt-dlp ${what} failed`);
  return new AppError(category, { detail });
}

/** The saved document, only for part sizes: an unreadable one just means equal weights. */
async function readInfo(file: string): Promise<YtdlpInfo | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as YtdlpInfo;
  } catch {
    return null;
  }
}

export function createYtdlpEngine(deps: YtdlpEngineDeps) {
  const ffmpegLocation = resolveExecutable(deps.ffmpegPath);
  if (!ffmpegLocation) deps.logger.warn({ ffmpegPath: deps.ffmpegPath }, 'ffmpeg not found; A+B downloads will fail');
  const common = { features: deps.features, cookiesFile: deps.cookiesFile, proxy: deps.proxy };

  return {
    /** The raw `yt-dlp -J` document of one video. Errors are AppErrors with the mapped category. */
    async extractInfo(url: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<YtdlpInfo> {
      const result = await spawnYtdlp(deps.ytdlpPath, infoArgs(url, common), {
        signal: opts.signal,
        timeoutMs: opts.timeoutMs ?? EXTRACT_TIMEOUT_MS,
        collectStdoutBytes: MAX_INFO_JSON_BYTES,
      });
      if (result.timedOut) {
        deps.logger.warn({ timeoutMs: opts.timeoutMs ?? EXTRACT_TIMEOUT_MS }, 'yt-dlp -J timed out');
        throw new AppError('network_error', { detail: 'metadata extraction timed out' });
      }
      if (result.exitCode !== 0) throw failure({ ...result, stdout: '' }, deps.logger, 'metadata');
      if (result.stdoutTruncated) throw new AppError('download_failed', { detail: 'yt-dlp -J output too large' });
      let info: YtdlpInfo;
      try {
        info = JSON.parse(result.stdout) as YtdlpInfo;
      } catch (err) {
        throw new AppError('download_failed', { detail: 'yt-dlp -J printed no JSON', cause: err });
      }
      if (!info || typeof info !== 'object' || Array.isArray(info)) {
        throw new AppError('download_failed', { detail: 'yt-dlp -J printed no object' });
      }
      // --no-playlist still yields a playlist for channel or search pages: not one video.
      if (info._type === 'playlist' || info._type === 'multi_video') {
        throw new AppError('invalid_url', { detail: 'the URL is a playlist, not a video' });
      }
      return info;
    },

    /** Downloads one format (or `A+B`, merged into mp4) into `workDir`; resolves with the final file. */
    async download(req: DownloadRequest): Promise<{ filePath: string }> {
      const workDir = path.resolve(req.workDir);
      await fs.mkdir(workDir, { recursive: true });
      const finalPathFile = path.join(workDir, FINAL_PATH_FILE);
      let infoJsonFile: string | null = null;
      let info = req.infoJson ?? null;
      if (req.infoJsonPath) {
        infoJsonFile = req.infoJsonPath;
        info ??= await readInfo(req.infoJsonPath);
      } else if (info) {
        infoJsonFile = path.join(workDir, INFO_FILE);
        await fs.writeFile(infoJsonFile, JSON.stringify(info));
      }
      const args = downloadArgs({
        ...common,
        url: req.url,
        formatId: req.formatId,
        workDir,
        finalPathFile,
        infoJsonFile,
        maxFilesize: req.maxFilesize,
        ffmpegLocation,
        concurrentFragments: deps.concurrentFragments ?? null,
      });
      const partIds = req.formatId.split('+');
      const tracker = createPartTracker(partIds, partWeights(partIds.map((id) => (info ? formatSize(info, id) : null))));
      let merging = false;
      const result = await spawnYtdlp(deps.ytdlpPath, args, {
        signal: req.signal,
        timeoutMs: req.timeoutMs,
        onSpawn: req.onSpawn,
        onLine: (line) => {
          const parsed = parseProgressLine(line);
          if (parsed?.progress) {
            const progress = tracker.onProgress(parsed.format_id ?? null, parsed.progress);
            if (!merging) req.onProgress?.({ ...progress, phase: 'downloading' });
          } else if (line.startsWith('[Merger]') && !merging) {
            merging = true;
            req.onProgress?.({ percentage: tracker.percentage(), phase: 'merging', speed: null, eta: null });
          }
        },
      });
      if (result.timedOut) {
        deps.logger.warn({ timeoutMs: req.timeoutMs }, 'yt-dlp download timed out');
        throw new AppError('download_timeout', { detail: `download took over ${req.timeoutMs} ms` });
      }
      if (result.exitCode !== 0) throw failure(result, deps.logger, 'download');
      // An abort over --max-filesize is a notice on stdout with exit code 0.
      if (MAX_FILESIZE_NOTICE.test(result.stdout)) {
        throw new AppError('file_too_large', { detail: 'yt-dlp aborted over --max-filesize' });
      }
      const filePath = (await fs.readFile(finalPathFile, 'utf8').catch(() => '')).trim().split('\n').pop() ?? '';
      const resolved = path.resolve(workDir, filePath);
      const stat = filePath ? await fs.stat(resolved).catch(() => null) : null;
      if (!stat?.isFile() || !resolved.startsWith(workDir + path.sep)) {
        // e.g. a merge skipped because ffmpeg is missing: yt-dlp warns and still exits 0.
        throw failure(result, deps.logger, 'download (no output file)');
      }
      return { filePath: resolved };
    },
  };
}

export type YtdlpEngine = ReturnType<typeof createYtdlpEngine>;
