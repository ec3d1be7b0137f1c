/**
 * What every benchmark gets: the run's options, the loopback media server, and the bare yt-dlp
 * baselines, built with the same argument builders the service uses (src/engine/ytdlp-args.ts) so
 * a difference is our overhead and not different options.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { downloadArgs, infoArgs } from '../src/engine/ytdlp-args.js';
import { resolveExecutable, type YtdlpFeatures } from '../src/engine/ytdlp-probe.js';
import type { MediaServer } from '../test/media/media-server.js';
import type { Mode } from './bench-service.js';
import type { Metrics } from './bench-stats.js';

export interface BenchContext {
  quick: boolean;
  /** The modes to run store-dependent benchmarks in (distributed only when Redis answers). */
  modes: Mode[];
  redisUrl: string;
  media: MediaServer;
  ytdlpPath: string;
  features: YtdlpFeatures;
  /** A scratch dir on the same disk as the service's DOWNLOAD_DIR; removed at the end. */
  scratchDir: string;
  log(message: string): void;
}

/** Runs a benchmark once per mode of the run, the modes one after another, and merges its metrics. */
export async function inEachMode(ctx: BenchContext, bench: (ctx: BenchContext, mode: Mode) => Promise<Metrics>): Promise<Metrics> {
  const metrics: Metrics = {};
  for (const mode of ctx.modes) Object.assign(metrics, await bench(ctx, mode));
  return metrics;
}

/** Runs `file args` without a shell; rejects on a non-zero exit. */
export function runCommand(file: string, args: string[], opts: { stdoutBytes?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let size = 0;
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= (opts.stdoutBytes ?? 64 * 1024 * 1024)) out.push(c);
    });
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`${file} exited with ${code}: ${err}`));
    });
  });
}

/** `yt-dlp -J` of `url` with the service's arguments; resolves with the document's text. */
export function bareInfo(ctx: BenchContext, url: string): Promise<string> {
  return runCommand(ctx.ytdlpPath, infoArgs(url, { features: ctx.features }));
}

export interface BareDownload {
  file: string;
  args: string[];
}

/**
 * The arguments the worker passes for one download into `workDir`, including `--load-info-json`
 * of a saved `-J` document as the worker does when the format list was fetched first.
 */
export async function bareDownloadArgs(
  ctx: BenchContext,
  opts: { url: string; formatId: string; workDir: string; infoJsonFile: string | null },
): Promise<BareDownload> {
  await mkdir(opts.workDir, { recursive: true });
  const args = downloadArgs({
    features: ctx.features,
    url: opts.url,
    formatId: opts.formatId,
    workDir: opts.workDir,
    finalPathFile: path.join(opts.workDir, '.final-path'),
    infoJsonFile: opts.infoJsonFile,
    maxFilesize: null,
    ffmpegLocation: resolveExecutable(process.env.FFMPEG_PATH ?? 'ffmpeg'),
  });
  return { file: ctx.ytdlpPath, args };
}

/** Saves the `-J` document of `url` to `file` (untimed set-up for the download baselines). */
export async function saveInfo(ctx: BenchContext, url: string, file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, await bareInfo(ctx, url));
}

export async function bareDownload(ctx: BenchContext, opts: Parameters<typeof bareDownloadArgs>[1]): Promise<void> {
  const { file, args } = await bareDownloadArgs(ctx, opts);
  try {
    await runCommand(file, args);
  } finally {
    await rm(opts.workDir, { recursive: true, force: true });
  }
}

/** Single-quotes `s` for a POSIX shell script. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs `bash script` and resolves when it exits 0. */
export function runShellScript(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('bash', [script], { maxBuffer: 16 * 1024 * 1024 }, (err) => (err ? reject(err) : resolve()));
  });
}
