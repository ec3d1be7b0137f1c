/**
 * Bulk-byte benchmarks: serving a large finished file through its token link against a bare
 * `node:http` + `fs.createReadStream` server (with the service's RSS watched meanwhile), and a
 * large download through a job against a bare yt-dlp of the same arguments, with curl on the same
 * URL as the physical reference.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { largeFixtureUrl } from '../test/media/media-server.js';
import { createJobWatcher, expectStatus, requestJson } from './bench-client.js';
import { bareDownload, runCommand, saveInfo, type BenchContext } from './bench-context.js';
import { startBareServer, startService, type Child } from './bench-service.js';
import { median, metric, spreadOf, timeMs, toMB, type Metrics } from './bench-stats.js';

const SERVE_RATIO = 0.85;
const SERVE_RSS_GROWTH_MB = 50;
const DOWNLOAD_RATIO = 0.9;
const RSS_SAMPLE_MS = 50;

/** curl's average speed (bytes/s) for one GET of `url` into `out`. */
async function curlSpeed(url: string, out = '/dev/null'): Promise<number> {
  const text = await runCommand('curl', ['-sS', '--fail', '-o', out, '-w', '%{speed_download} %{size_download}', url]);
  const [speed] = text.trim().split(' ');
  return Number(speed);
}

/** Runs `fn` while sampling `pid`'s RSS; resolves with its result and the largest growth (bytes). */
async function watchRss<T>(child: Pick<Child, 'rss'>, fn: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const before = await child.rss();
  let peak = before;
  const timer = setInterval(() => {
    child.rss().then(
      (rss) => (peak = Math.max(peak, rss)),
      () => {},
    );
  }, RSS_SAMPLE_MS);
  try {
    const result = await fn();
    peak = Math.max(peak, await child.rss());
    return { result, growth: peak - before };
  } finally {
    clearInterval(timer);
  }
}

export async function benchFileServing(ctx: BenchContext): Promise<Metrics> {
  const size = ctx.quick ? 256 * 1024 * 1024 : 1024 * 1024 * 1024;
  const svc = await startService({ mode: 'embedded', redisUrl: ctx.redisUrl });
  let bare: Child | null = null;
  try {
    ctx.log(`file serving: preparing a ${toMB(size)} MB file through a job`);
    const watcher = await createJobWatcher(svc.url);
    const job = await watcher.run(largeFixtureUrl(ctx.media, size), 'mp4').finally(() => watcher.close());
    const dir = path.join(svc.downloadDir, job.jobId);
    const [name] = await readdir(dir);
    bare = await startBareServer('file', [path.join(dir, name!)]);
    const rounds = ctx.quick ? 2 : 5;
    ctx.log(`file serving: ${rounds} pairs`);
    const ours: number[] = [];
    const base: number[] = [];
    const growth: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const run = await watchRss(svc, () => curlSpeed(`${svc.url}${job.downloadUrl}`));
      ours.push(run.result);
      growth.push(run.growth);
      base.push(await curlSpeed(`${bare.url}/file.mp4`));
    }
    const mbps = (xs: number[]) => xs.map(toMB);
    return {
      'file_serving.throughput': metric({
        value: toMB(median(ours)),
        baseline: toMB(median(base)),
        unit: `MB/s (${toMB(size)} MB file, curl)`,
        target: `≥ ${SERVE_RATIO}× node:http + createReadStream`,
        pass: median(ours) / median(base) >= SERVE_RATIO,
        spread: `ours ${spreadOf(mbps(ours), 0)}; bare ${spreadOf(mbps(base), 0)}`,
      }),
      'file_serving.rss_growth': metric({
        value: toMB(Math.max(...growth)),
        baseline: null,
        unit: 'MB RSS growth during a download (max)',
        target: `< ${SERVE_RSS_GROWTH_MB} MB`,
        pass: toMB(Math.max(...growth)) < SERVE_RSS_GROWTH_MB,
        spread: `${spreadOf(mbps(growth))}, sampled every ${RSS_SAMPLE_MS} ms`,
      }),
    };
  } finally {
    await bare?.stop();
    await svc.stop();
  }
}

export async function benchDownload(ctx: BenchContext): Promise<Metrics> {
  const size = ctx.quick ? 128 * 1024 * 1024 : 500 * 1024 * 1024;
  const url = largeFixtureUrl(ctx.media, size);
  const infoJsonFile = path.join(ctx.scratchDir, 'large-info.json');
  await saveInfo(ctx, url, infoJsonFile);
  const svc = await startService({ mode: 'embedded', redisUrl: ctx.redisUrl });
  try {
    await expectStatus(await requestJson('POST', `${svc.url}/api/v1/videos/resolutions`, { url }), 200, 'resolutions');
    const watcher = await createJobWatcher(svc.url);
    const rounds = ctx.quick ? 1 : 5;
    ctx.log(`download throughput: ${rounds} rounds of ${toMB(size)} MB (job, yt-dlp, curl)`);
    const ours: number[] = [];
    const bare: number[] = [];
    const curl: number[] = [];
    try {
      for (let r = 0; r < rounds; r++) {
        let jobId = '';
        ours.push(size / (await timeMs(async () => ({ jobId } = await watcher.run(url, 'mp4')))) * 1000);
        // Frees the disk before the next run, as a client deleting its job would.
        await requestJson('DELETE', `${svc.url}/api/v1/jobs/${jobId}`);
        const workDir = path.join(ctx.scratchDir, `large-${r}`);
        bare.push(size / (await timeMs(() => bareDownload(ctx, { url, formatId: 'mp4', workDir, infoJsonFile }))) * 1000);
        const out = path.join(ctx.scratchDir, 'curl.mp4');
        curl.push(await curlSpeed(url, out));
        await rm(out, { force: true });
      }
    } finally {
      watcher.close();
    }
    // What curl does not pay: Python and yt-dlp's start-up, once per download.
    const startup: number[] = [];
    for (let r = 0; r < 3; r++) startup.push(await timeMs(() => runCommand(ctx.ytdlpPath, ['--version'])));
    const mbps = (xs: number[]) => xs.map(toMB);
    return {
      'download.ytdlp_startup': metric({
        value: median(startup),
        baseline: null,
        unit: 'ms for `yt-dlp --version`',
        target: 'reference only',
        pass: null,
        spread: spreadOf(startup, 0),
      }),
      'download.throughput': metric({
        value: toMB(median(ours)),
        baseline: toMB(median(bare)),
        unit: `MB/s (${toMB(size)} MB, POST to completed)`,
        target: `≥ ${DOWNLOAD_RATIO}× bare yt-dlp`,
        pass: median(ours) / median(bare) >= DOWNLOAD_RATIO,
        spread: `ours ${spreadOf(mbps(ours), 0)}; yt-dlp ${spreadOf(mbps(bare), 0)}`,
      }),
      'download.curl_reference': metric({
        value: toMB(median(curl)),
        baseline: toMB(median(bare)),
        unit: 'MB/s curl (baseline: bare yt-dlp)',
        target: 'reference only',
        pass: null,
        spread: `curl ${spreadOf(mbps(curl), 0)}`,
      }),
    };
  } finally {
    await svc.stop();
  }
}
