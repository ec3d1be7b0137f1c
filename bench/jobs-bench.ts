/**
 * Job benchmarks on the small progressive mp4: the overhead of one job over a bare yt-dlp run of
 * the same arguments, the throughput of a batch with two workers against the same commands two at
 * a time from a shell script, and the memory of an idle and of a soaked `serve`.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createJobWatcher, expectStatus, requestJson, type JobWatcher } from './bench-client.js';
import { bareDownload, bareDownloadArgs, inEachMode, runShellScript, saveInfo, shellQuote, type BenchContext } from './bench-context.js';
import { cpuSecondsOf, startBareServer, startService, type Mode, type Service } from './bench-service.js';
import { median, metric, paired, round, spreadOf, timeMs, toMB, type Metrics } from './bench-stats.js';

const FORMAT = 'mp4';
const OVERHEAD_MS = 150;
const THROUGHPUT_RATIO = 1.2;
const IDLE_RSS_MB = 150;
const SOAK_RATIO = 1.2;
/** The realtime gateway caps rooms per socket; stay below it when following a batch. */
const JOBS_PER_WATCHER = 50;

/** Starts `count` jobs at once and resolves when every one has completed. */
async function runBatch(svc: Service, url: string, count: number): Promise<void> {
  const watchers: JobWatcher[] = [];
  try {
    for (let i = 0; i < Math.ceil(count / JOBS_PER_WATCHER); i++) watchers.push(await createJobWatcher(svc.url));
    await Promise.all(
      Array.from({ length: count }, (_, i) => watchers[Math.floor(i / JOBS_PER_WATCHER)]!.run(url, FORMAT)),
    );
  } finally {
    for (const w of watchers) w.close();
  }
}

async function warmCache(svc: Service, url: string): Promise<void> {
  await expectStatus(await requestJson('POST', `${svc.url}/api/v1/videos/resolutions`, { url }), 200, 'resolutions');
}

async function benchMode(ctx: BenchContext, mode: Mode): Promise<Metrics> {
  const metrics: Metrics = {};
  const url = `${ctx.media.baseUrl}/video.mp4`;
  const infoJsonFile = path.join(ctx.scratchDir, 'video-info.json');
  await saveInfo(ctx, url, infoJsonFile);
  const svc = await startService({ mode, redisUrl: ctx.redisUrl, env: { WORKER_CONCURRENCY: '2' } });
  try {
    // The client flow: the format list first (cached), then the job, which reuses that metadata.
    await warmCache(svc, url);
    const watcher = await createJobWatcher(svc.url);
    const pairs = ctx.quick ? 2 : 10;
    ctx.log(`job overhead (${mode}): ${pairs} pairs`);
    const overhead = await paired(
      pairs,
      () => timeMs(() => watcher.run(url, FORMAT)),
      (i) => timeMs(() => bareDownload(ctx, { url, formatId: FORMAT, workDir: path.join(ctx.scratchDir, `one-${i}`), infoJsonFile })),
      { warmup: !ctx.quick },
    ).finally(() => watcher.close());
    metrics[`job_overhead.${mode}`] = metric({
      value: median(overhead.diffs),
      baseline: median(overhead.base),
      ratio: median(overhead.ours) / median(overhead.base),
      unit: 'ms over bare yt-dlp',
      target: `≤ ${OVERHEAD_MS} ms`,
      pass: median(overhead.diffs) <= OVERHEAD_MS,
      spread: `diff ${spreadOf(overhead.diffs)}; bare ${spreadOf(overhead.base, 0)}`,
    });

    // Alternating slices per side, so a change in the machine's load hits both sides alike.
    const count = ctx.quick ? 10 : 100;
    const slices = ctx.quick ? 2 : 4;
    const slice = count / slices;
    ctx.log(`job throughput (${mode}): ${count} jobs per side, in ${slices} alternating slices`);
    let ours = 0;
    let base = 0;
    let cpuOurs = 0;
    for (let h = 0; h < slices; h++) {
      const c0 = await cpuSecondsOf(svc.pid);
      ours += await timeMs(() => runBatch(svc, url, slice));
      cpuOurs += (await cpuSecondsOf(svc.pid)) - c0;
      base += await timeMs(() => bareBatch(ctx, url, slice, infoJsonFile));
    }
    metrics[`job_throughput.${mode}`] = metric({
      value: ours / 1000,
      baseline: base / 1000,
      unit: `s for ${count} jobs`,
      target: `≤ ${THROUGHPUT_RATIO}× shell script`,
      pass: ours / base <= THROUGHPUT_RATIO,
      spread: `${slices} alternating slices of ${slice} jobs, 2 at a time; service CPU ${round((cpuOurs * 1000) / count, 1)} ms/job`,
    });
  } finally {
    await svc.stop();
  }
  return metrics;
}

/** The same yt-dlp commands, two at a time, from a shell script: two loops of half the jobs each. */
async function bareBatch(ctx: BenchContext, url: string, count: number, infoJsonFile: string): Promise<void> {
  const root = path.join(ctx.scratchDir, 'batch');
  await mkdir(root, { recursive: true });
  try {
    const lanes: string[][] = [[], []];
    for (let i = 0; i < count; i++) {
      const { file, args } = await bareDownloadArgs(ctx, { url, formatId: FORMAT, workDir: path.join(root, `j${i}`), infoJsonFile });
      lanes[i % 2]!.push([file, ...args].map(shellQuote).join(' ') + ' >/dev/null');
    }
    const script = [
      'set -e',
      ...lanes.map((lane, i) => `(\n${lane.join('\n')}\n) &\np${i}=$!`),
      'wait "$p0"',
      'wait "$p1"',
      '',
    ].join('\n');
    const scriptFile = path.join(ctx.scratchDir, 'batch.sh');
    await writeFile(scriptFile, script);
    await runShellScript(scriptFile);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function settledRss(child: Pick<Service, 'rss'>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 200));
    samples.push(await child.rss());
  }
  return median(samples);
}

/** Idle RSS of an embedded `serve` (against a bare Fastify process) and RSS growth over a soak. */
export async function benchMemory(ctx: BenchContext): Promise<Metrics> {
  const metrics: Metrics = {};
  const url = `${ctx.media.baseUrl}/video.mp4`;
  const svc = await startService({ mode: 'embedded', redisUrl: ctx.redisUrl, env: { WORKER_CONCURRENCY: '2' } });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const idle = await settledRss(svc);
    const empty = path.join(ctx.scratchDir, 'empty.json');
    await writeFile(empty, '{}');
    const bare = await startBareServer('fastify', [empty, empty]);
    const bareIdle = await settledRss(bare).finally(() => bare.stop());
    metrics['memory.idle_rss'] = metric({
      value: toMB(idle),
      baseline: toMB(bareIdle),
      unit: 'MB RSS (embedded serve)',
      target: `< ${IDLE_RSS_MB} MB`,
      pass: toMB(idle) < IDLE_RSS_MB,
      spread: 'median of 5 samples over 1 s',
    });

    const total = ctx.quick ? 30 : 300;
    const first = ctx.quick ? 10 : 50;
    const wave = 10;
    ctx.log(`memory soak: ${total} jobs`);
    await warmCache(svc, url);
    let afterFirst = 0;
    for (let done = 0; done < total; done += wave) {
      await runBatch(svc, url, wave);
      if (done + wave === first) afterFirst = await settledRss(svc);
    }
    const end = await settledRss(svc);
    metrics['memory.soak_rss'] = metric({
      value: toMB(end),
      baseline: toMB(afterFirst),
      unit: `MB RSS after ${total} jobs (baseline: after ${first})`,
      target: `≤ ${SOAK_RATIO}× after ${first} jobs`,
      pass: end / afterFirst <= SOAK_RATIO,
      spread: `${total} jobs in waves of ${wave}; median of 5 samples`,
    });
  } finally {
    await svc.stop();
  }
  return metrics;
}

export function benchJobs(ctx: BenchContext): Promise<Metrics> {
  return inEachMode(ctx, benchMode);
}
