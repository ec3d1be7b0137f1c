/**
 * What the installed yt-dlp and ffmpeg can do, probed once at start-up (SPEC §3): newer yt-dlp
 * options are passed only when `--help` lists them, so one build works with Debian's old yt-dlp and
 * with current releases.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export interface YtdlpFeatures {
  /** `--js-runtimes` (2025+): lets yt-dlp solve YouTube's JavaScript challenges with node. */
  jsRuntimes: boolean;
  /** `--progress-delta` (2024+): yt-dlp itself spaces progress lines out. */
  progressDelta: boolean;
}

export interface YtdlpProbe {
  /** e.g. `"2023.03.04"`, or null when yt-dlp cannot be run. */
  version: string | null;
  features: YtdlpFeatures;
}

export const NO_FEATURES: YtdlpFeatures = { jsRuntimes: false, progressDelta: false };

/** Start-up probes must not hang the boot on a wedged binary. */
const PROBE_TIMEOUT_MS = 15_000;

function output(file: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: PROBE_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }, (err, stdout) => {
      resolve(err ? null : stdout);
    });
  });
}

/** Which newer options a `yt-dlp --help` text lists. */
export function parseYtdlpFeatures(help: string): YtdlpFeatures {
  const has = (option: string) => new RegExp(`(^|\\s)${option}[\\s=]`, 'm').test(help);
  return { jsRuntimes: has('--js-runtimes'), progressDelta: has('--progress-delta') };
}

export async function probeYtdlp(ytdlpPath: string): Promise<YtdlpProbe> {
  const [version, help] = await Promise.all([output(ytdlpPath, ['--version']), output(ytdlpPath, ['--help'])]);
  return {
    version: version?.trim().split(/\s+/)[0] || null,
    features: help ? parseYtdlpFeatures(help) : { ...NO_FEATURES },
  };
}

/** ffmpeg's version (`"5.1.9-0+deb12u1"`), or null when it cannot be run. */
export async function probeFfmpeg(ffmpegPath: string): Promise<string | null> {
  const text = await output(ffmpegPath, ['-hide_banner', '-version']);
  return /ffmpeg version (\S+)/.exec(text ?? '')?.[1] ?? null;
}

/**
 * An absolute path for a command name, searched on PATH, or null. yt-dlp's `--ffmpeg-location`
 * does not search PATH itself: a bare `ffmpeg` there makes it skip merging with only a warning.
 */
export function resolveExecutable(command: string, envPath = process.env.PATH ?? ''): string | null {
  const candidates = command.includes('/')
    ? [path.resolve(command)]
    : envPath.split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next one
    }
  }
  return null;
}
