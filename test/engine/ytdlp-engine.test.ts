import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createYtdlpEngine, type DownloadProgress, type YtdlpEngine } from '../../src/engine/ytdlp-engine.js';
import { probeYtdlp } from '../../src/engine/ytdlp-probe.js';
import { groupAlive } from '../../src/engine/ytdlp-runner.js';
import { AppError, type ErrorCategory } from '../../src/errors.js';
import { mapInfo } from '../../src/videos/format-mapping.js';
import { FIXTURE_FILES, fixturesDir, MEDIA_FORMAT_IDS, startMediaServer, type MediaServer } from '../helpers/media.js';

const run = promisify(execFile);
const YTDLP = process.env.YTDLP_PATH ?? 'yt-dlp';
const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';

let server: MediaServer;
let engine: YtdlpEngine;
let root: string;

beforeAll(async () => {
  server = await startMediaServer();
  const probe = await probeYtdlp(YTDLP);
  engine = createYtdlpEngine({
    ytdlpPath: YTDLP,
    ffmpegPath: FFMPEG,
    cookiesFile: null,
    proxy: null,
    features: probe.features,
    logger: pino({ level: 'silent' }),
  });
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'ultra-dl-engine-test-'));
});

afterAll(async () => {
  await server?.close();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

async function workDir(): Promise<string> {
  return fs.mkdtemp(path.join(root, 'job-'));
}

async function streams(file: string): Promise<{ codec_type: string; height?: number }[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,height', '-of', 'json', file]);
  return (JSON.parse(stdout) as { streams: { codec_type: string; height?: number }[] }).streams;
}

async function categoryOf(promise: Promise<unknown>): Promise<ErrorCategory> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return (err as AppError).category;
}

function expectMonotonic(events: DownloadProgress[]): void {
  for (let i = 1; i < events.length; i += 1) {
    expect(events[i]!.percentage).toBeGreaterThanOrEqual(events[i - 1]!.percentage);
  }
}

describe('extractInfo', () => {
  it('lists the progressive file as one video+audio format', async () => {
    const info = await engine.extractInfo(`${server.baseUrl}/video.mp4`);
    const { meta, formats } = mapInfo(info);
    expect(meta.title).toBe('video');
    expect(formats.map((f) => [f.format_id, f.type])).toEqual([[MEDIA_FORMAT_IDS.progressive, 'video+audio']]);
  });

  it('lists the DASH representations as separate video-only and audio-only formats', async () => {
    const info = await engine.extractInfo(`${server.baseUrl}/dash/manifest.mpd`);
    const { formats } = mapInfo(info);
    expect(formats.map((f) => [f.format_id, f.type, f.height])).toEqual([
      [MEDIA_FORMAT_IDS.dashVideo[360], 'video_only', 360],
      [MEDIA_FORMAT_IDS.dashVideo[240], 'video_only', 240],
      [MEDIA_FORMAT_IDS.dashVideo[144], 'video_only', 144],
      [MEDIA_FORMAT_IDS.dashAudio, 'audio_only', 0],
    ]);
  });

  it.each([
    ['/error/404', 'video_unavailable'],
    ['/error/403', 'video_unavailable'],
    ['/error/429', 'platform_rate_limited'],
    ['/error/500', 'download_failed'],
    ['/error/reset', 'network_error'],
  ] as const)('maps %s to %s', async (route, category) => {
    expect(await categoryOf(engine.extractInfo(`${server.baseUrl}${route}`))).toBe(category);
  });

  it('maps a refused connection to network_error', async () => {
    // Port 1 on loopback is closed on any normal machine.
    expect(await categoryOf(engine.extractInfo('http://127.0.0.1:1/video.mp4'))).toBe('network_error');
  });
});

describe('download', () => {
  it('merges DASH video+audio into an mp4 with both streams at the chosen height', async () => {
    const dir = await workDir();
    const events: DownloadProgress[] = [];
    const formatId = `${MEDIA_FORMAT_IDS.dashVideo[240]}+${MEDIA_FORMAT_IDS.dashAudio}`;
    const { filePath } = await engine.download({
      url: `${server.baseUrl}/dash/manifest.mpd`,
      formatId,
      workDir: dir,
      maxFilesize: null,
      timeoutMs: 60_000,
      onProgress: (p) => events.push(p),
    });
    expect(path.dirname(filePath)).toBe(dir);
    expect(path.extname(filePath)).toBe('.mp4');
    const s = await streams(filePath);
    expect(s.filter((x) => x.codec_type === 'video').map((x) => x.height)).toEqual([240]);
    expect(s.filter((x) => x.codec_type === 'audio')).toHaveLength(1);
    expectMonotonic(events);
    expect(events.some((e) => e.phase === 'merging')).toBe(true);
    // No sizes are known without saved metadata: both parts count equally.
    expect(events.some((e) => e.phase === 'downloading' && e.percentage === 50)).toBe(true);
    expect(events.at(-1)!.percentage).toBeGreaterThan(99);
  });

  it.each(['an object', 'a file'] as const)('reuses saved metadata (given as %s) with --load-info-json and weights the parts by size', async (given) => {
    const url = `${server.baseUrl}/dash/manifest.mpd`;
    const extracted = await engine.extractInfo(url);
    // The generic extractor knows no sizes; YouTube does. Give the formats their real sizes.
    const sizeOf = async (id: string) =>
      (await fs.stat(path.join(fixturesDir(), id === MEDIA_FORMAT_IDS.dashAudio ? FIXTURE_FILES.audio : FIXTURE_FILES.video(144)))).size;
    const videoId = MEDIA_FORMAT_IDS.dashVideo[144];
    const audioId = MEDIA_FORMAT_IDS.dashAudio;
    const [videoSize, audioSize] = [await sizeOf(videoId), await sizeOf(audioId)];
    const info = {
      ...extracted,
      formats: extracted.formats!.map((f) => ({ ...f, filesize: f.format_id === audioId ? audioSize : videoSize })),
    };
    const dir = await workDir();
    const infoJsonPath = path.join(dir, 'saved-info.json');
    if (given === 'a file') await fs.writeFile(infoJsonPath, JSON.stringify(info));
    const events: DownloadProgress[] = [];
    const { filePath } = await engine.download({
      // A URL that fails proves the saved document, not the URL, is used.
      url: `${server.baseUrl}/error/404`,
      ...(given === 'a file' ? { infoJsonPath } : { infoJson: info }),
      formatId: `${videoId}+${audioId}`,
      workDir: dir,
      maxFilesize: null,
      timeoutMs: 60_000,
      onProgress: (p) => events.push(p),
    });
    expect((await streams(filePath)).map((x) => x.codec_type).sort()).toEqual(['audio', 'video']);
    expectMonotonic(events);
    // When the video part is done the bar stands at the video's share of the bytes, not at 50%.
    const videoShare = (100 * videoSize) / (videoSize + audioSize);
    expect(events.some((e) => Math.abs(e.percentage - videoShare) < 0.01)).toBe(true);
    expect(events.some((e) => Math.abs(e.percentage - 50) < 0.01)).toBe(false);
    expect(events.at(-1)!.percentage).toBeGreaterThan(99);
  });

  it('follows the parts of selector pairs (bestvideo+bestaudio) by the format being fetched', async () => {
    const dir = await workDir();
    const events: DownloadProgress[] = [];
    const { filePath } = await engine.download({
      url: `${server.baseUrl}/dash/manifest.mpd`,
      formatId: 'bestvideo+bestaudio',
      workDir: dir,
      maxFilesize: null,
      timeoutMs: 60_000,
      onProgress: (p) => events.push(p),
    });
    const s = await streams(filePath);
    expect(s.filter((x) => x.codec_type === 'video').map((x) => x.height)).toEqual([360]);
    expect(s.some((x) => x.codec_type === 'audio')).toBe(true);
    expectMonotonic(events);
    // The first part ends at the midpoint and the second carries the bar on to the end.
    expect(events.some((e) => e.percentage === 50)).toBe(true);
    expect(events.filter((e) => e.phase === 'downloading').at(-1)!.percentage).toBe(100);
  });

  it('downloads the progressive file as is', async () => {
    const dir = await workDir();
    const { filePath } = await engine.download({
      url: `${server.baseUrl}/video.mp4`,
      formatId: MEDIA_FORMAT_IDS.progressive,
      workDir: dir,
      maxFilesize: null,
      timeoutMs: 60_000,
    });
    expect(path.basename(filePath)).toBe('video [video].mp4');
    expect((await streams(filePath)).map((x) => x.codec_type).sort()).toEqual(['audio', 'video']);
  });

  it('fails an unlisted format with format_not_supported', async () => {
    const dir = await workDir();
    const p = engine.download({ url: `${server.baseUrl}/video.mp4`, formatId: 'nope', workDir: dir, maxFilesize: null, timeoutMs: 60_000 });
    expect(await categoryOf(p)).toBe('format_not_supported');
  });

  it('fails a file over the size limit with file_too_large', async () => {
    const dir = await workDir();
    const p = engine.download({ url: `${server.baseUrl}/video.mp4`, formatId: 'mp4', workDir: dir, maxFilesize: 100_000, timeoutMs: 60_000 });
    expect(await categoryOf(p)).toBe('file_too_large');
  });

  it.each([
    ['/error/dash-403/manifest.mpd', 'video_unavailable'],
    ['/error/dash-reset/manifest.mpd', 'network_error'],
  ] as const)('maps a media failure of %s to %s', async (route, category) => {
    const dir = await workDir();
    const p = engine.download({
      url: `${server.baseUrl}${route}`,
      formatId: MEDIA_FORMAT_IDS.dashVideo[144],
      workDir: dir,
      maxFilesize: null,
      timeoutMs: 60_000,
    });
    expect(await categoryOf(p)).toBe(category);
  });

  it('gives download_timeout when the download outlasts its time and leaves no process behind', async () => {
    const dir = await workDir();
    let pid = 0;
    const p = engine.download({
      url: `${server.baseUrl}/slow/video.mp4`,
      formatId: MEDIA_FORMAT_IDS.progressive,
      workDir: dir,
      maxFilesize: null,
      timeoutMs: 1500,
      onSpawn: (id) => (pid = id),
    });
    expect(await categoryOf(p)).toBe('download_timeout');
    expect(pid).toBeGreaterThan(0);
    expect(groupAlive(pid)).toBe(false);
  });

  it('kills the whole process group within 2 s of an abort and rejects with the reason', async () => {
    const dir = await workDir();
    const controller = new AbortController();
    const events: DownloadProgress[] = [];
    let pid = 0;
    let abortedAt = 0;
    const reason = new Error('cancelled by test');
    const p = engine.download({
      url: `${server.baseUrl}/slow/video.mp4`,
      formatId: MEDIA_FORMAT_IDS.progressive,
      workDir: dir,
      maxFilesize: null,
      timeoutMs: 60_000,
      signal: controller.signal,
      onSpawn: (id) => (pid = id),
      onProgress: (e) => {
        events.push(e);
        if (e.percentage > 10 && !abortedAt) {
          abortedAt = Date.now();
          controller.abort(reason);
        }
      },
    });
    const settled = p.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    const outcome = await settled;
    expect(outcome).toBe(reason);
    expect(abortedAt).toBeGreaterThan(0);
    expect(Date.now() - abortedAt).toBeLessThan(2000);
    expect(pid).toBeGreaterThan(0);
    expect(groupAlive(pid)).toBe(false);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    // The slow route needs ~5 s for the whole file: the abort stopped it early.
    expect(events.at(-1)!.percentage).toBeLessThan(100);
  });
});
