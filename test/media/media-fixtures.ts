/**
 * Test media generated with ffmpeg (SPEC §12), once per machine, into a cache directory shared by
 * every test run. Generation goes to a private temp dir that is renamed into place, so parallel
 * runs never see half-written fixtures.
 */
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Bump when the fixture set changes, so stale caches are not reused. */
const FIXTURES_VERSION = 'v1';
const COMPLETE_MARKER = 'complete.json';

/** Heights of the DASH video-only representations. */
export const DASH_HEIGHTS = [144, 240, 360] as const;
/** Seconds of the DASH media and of the progressive file. */
export const DASH_SECONDS = 4;
export const PROGRESSIVE_SECONDS = 5;

export const FIXTURE_FILES = {
  progressive: 'video.mp4',
  manifest: 'dash/manifest.mpd',
  audio: 'dash/audio.m4a',
  video: (height: number) => `dash/video-${height}.mp4`,
} as const;

/** Where the fixtures live (`<tmpdir>/ultra-dl-test-media-v1`), generated or not. */
export function fixturesDir(): string {
  return path.join(os.tmpdir(), `ultra-dl-test-media-${FIXTURES_VERSION}`);
}

function widthFor(height: number): number {
  // 16:9 rounded to an even number, as libx264 with yuv420p needs.
  return Math.round((height * 16) / 9 / 2) * 2;
}

async function ffmpeg(ffmpegPath: string, args: string[]): Promise<void> {
  await run(ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], {
    timeout: 60_000,
  });
}

const H264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'baseline', '-level', '3.0', '-pix_fmt', 'yuv420p'];

async function generate(dir: string, ffmpegPath: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'dash'), { recursive: true });
  const jobs: Promise<void>[] = [];
  jobs.push(
    ffmpeg(ffmpegPath, [
      '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=25:duration=${PROGRESSIVE_SECONDS}`,
      '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${PROGRESSIVE_SECONDS}`,
      ...H264, '-b:v', '1500k', '-c:a', 'aac', '-b:a', '128k',
      '-movflags', '+faststart', '-shortest', path.join(dir, FIXTURE_FILES.progressive),
    ]),
  );
  for (const height of DASH_HEIGHTS) {
    jobs.push(
      ffmpeg(ffmpegPath, [
        '-f', 'lavfi', '-i', `testsrc2=size=${widthFor(height)}x${height}:rate=25:duration=${DASH_SECONDS}`,
        ...H264, '-g', '25', '-an', '-movflags', '+faststart', path.join(dir, FIXTURE_FILES.video(height)),
      ]),
    );
  }
  jobs.push(
    ffmpeg(ffmpegPath, [
      '-f', 'lavfi', '-i', `sine=frequency=660:sample_rate=44100:duration=${DASH_SECONDS}`,
      '-c:a', 'aac', '-b:a', '96k', '-movflags', '+faststart', path.join(dir, FIXTURE_FILES.audio),
    ]),
  );
  await Promise.all(jobs);
  const sizes: Record<string, number> = {};
  for (const height of DASH_HEIGHTS) {
    sizes[FIXTURE_FILES.video(height)] = (await fs.stat(path.join(dir, FIXTURE_FILES.video(height)))).size;
  }
  sizes[FIXTURE_FILES.audio] = (await fs.stat(path.join(dir, FIXTURE_FILES.audio))).size;
  await fs.writeFile(path.join(dir, FIXTURE_FILES.manifest), dashManifest(sizes));
  await fs.writeFile(
    path.join(dir, COMPLETE_MARKER),
    JSON.stringify({ version: FIXTURES_VERSION, files: [FIXTURE_FILES.progressive, ...Object.keys(sizes)] }),
  );
}

/**
 * A static single-period MPD with one plain mp4 per representation (BaseURL, no segments), which
 * yt-dlp's generic extractor lists as one format per representation and fetches over plain HTTP.
 * Bandwidths come from the real sizes so yt-dlp's `tbr` (and so the size estimates) is right.
 */
function dashManifest(sizes: Record<string, number>): string {
  const bandwidth = (file: string) => Math.round(((sizes[file] ?? 0) * 8) / DASH_SECONDS);
  const videos = DASH_HEIGHTS.map(
    (h) =>
      `      <Representation id="video-${h}p" bandwidth="${bandwidth(FIXTURE_FILES.video(h))}" width="${widthFor(h)}" height="${h}" codecs="avc1.42C01E" mimeType="video/mp4" frameRate="25">\n` +
      `        <BaseURL>video-${h}.mp4</BaseURL>\n` +
      `      </Representation>`,
  ).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT${DASH_SECONDS}S" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4">
${videos}
    </AdaptationSet>
    <AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" lang="en">
      <Representation id="audio" bandwidth="${bandwidth(FIXTURE_FILES.audio)}" codecs="mp4a.40.2" audioSamplingRate="44100">
        <BaseURL>audio.m4a</BaseURL>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
`;
}

async function isComplete(dir: string): Promise<boolean> {
  try {
    const marker = JSON.parse(await fs.readFile(path.join(dir, COMPLETE_MARKER), 'utf8')) as {
      version?: string;
      files?: string[];
    };
    if (marker.version !== FIXTURES_VERSION || !Array.isArray(marker.files)) return false;
    return [...marker.files, FIXTURE_FILES.manifest].every((f) => existsSync(path.join(dir, f)));
  } catch {
    return false;
  }
}

/** Generates the fixtures when missing or incomplete; returns their directory. */
export async function ensureFixtures(opts: { dir?: string; ffmpegPath?: string } = {}): Promise<string> {
  const dir = opts.dir ?? fixturesDir();
  if (await isComplete(dir)) return dir;
  const staging = await fs.mkdtemp(`${dir}.tmp-`);
  try {
    // mkdtemp makes the dir private; other users' test runs on this machine read it too.
    await fs.chmod(staging, 0o755);
    await generate(staging, opts.ffmpegPath ?? process.env.FFMPEG_PATH ?? 'ffmpeg');
    // A parallel run may have finished first; never pull its files from under its tests.
    if (await isComplete(dir)) return dir;
    await fs.rm(dir, { recursive: true, force: true });
    try {
      await fs.rename(staging, dir);
    } catch (err) {
      // Another run renamed its own complete copy first: use that one.
      if (!(await isComplete(dir))) throw err;
    }
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
  return dir;
}
