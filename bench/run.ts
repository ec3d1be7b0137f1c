/**
 * `npm run bench [-- --quick] [--only a,b] [--out file]`: runs every benchmark against the built
 * service (`npm run build` first), prints a table and writes the results (bench/results.json for a
 * full run). `--quick` is CI's smoke mode: smaller sizes and fewer rounds, results not committed.
 * Every benchmark has a time budget; any child process left is killed on the way out.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeYtdlp } from '../src/engine/ytdlp-probe.js';
import { startMediaServer } from '../test/media/media-server.js';
import type { BenchContext } from './bench-context.js';
import { killAllChildren, redisAvailable, startService, type Mode } from './bench-service.js';
import { formatTable, type Metrics } from './bench-stats.js';
import { benchDownload, benchFileServing } from './file-bench.js';
import { benchHttp } from './http-bench.js';
import { benchJobs, benchMemory } from './jobs-bench.js';
import { benchFanout } from './socket-bench.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The committed results, in the source tree (this file runs from dist/bench/). */
const RESULTS_FILE = path.resolve(HERE, '../../bench/results.json');

interface Benchmark {
  name: string;
  run(ctx: BenchContext): Promise<Metrics>;
  /** Seconds the benchmark may take, full and quick; never more than what is left of the run's. */
  budget: { full: number; quick: number };
}

const BENCHMARKS: Benchmark[] = [
  { name: 'http', run: benchHttp, budget: { full: 600, quick: 60 } },
  { name: 'jobs', run: benchJobs, budget: { full: 240, quick: 60 } },
  { name: 'files', run: benchFileServing, budget: { full: 90, quick: 30 } },
  { name: 'download', run: benchDownload, budget: { full: 90, quick: 30 } },
  { name: 'fanout', run: benchFanout, budget: { full: 90, quick: 45 } },
  { name: 'memory', run: benchMemory, budget: { full: 120, quick: 45 } },
];

/** The whole run's budget, seconds: the 15 minutes for a full run, with a margin. */
const RUN_BUDGET_S = { full: 14.5 * 60, quick: 5 * 60 };

interface Args {
  quick: boolean;
  only: string[] | null;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const quick = argv.includes('--quick');
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const only = value('--only')?.split(',') ?? null;
  const unknown = only?.filter((n) => !BENCHMARKS.some((b) => b.name === n)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown benchmark(s): ${unknown.join(', ')}`);
  // Only a full run of everything replaces the committed results.
  const out = value('--out') ?? (quick || only ? path.join(os.tmpdir(), 'ultra-dl-bench-partial.json') : RESULTS_FILE);
  return { quick, only, out };
}

function withBudget<T>(name: string, seconds: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} went over its ${seconds} s budget`)), seconds * 1000);
  });
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

/** Distributed runs only when Redis answers and a distributed `serve` actually starts. */
async function pickModes(redisUrl: string, log: (m: string) => void): Promise<Mode[]> {
  if (!(await redisAvailable(redisUrl))) {
    log(`Redis not reachable at ${redisUrl}: embedded mode only`);
    return ['embedded'];
  }
  try {
    const svc = await startService({ mode: 'distributed', redisUrl });
    await svc.stop();
    return ['embedded', 'distributed'];
  } catch (err) {
    log(`distributed serve did not start (${(err as Error).message.split('\n')[0]}): embedded mode only`);
    return ['embedded'];
  }
}

export function machine(): string {
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  return `${os.availableParallelism()} cores (${cpu}), Node ${process.version}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM`;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = Date.now();
  const log = (m: string) => console.error(`[bench ${((Date.now() - startedAt) / 1000).toFixed(0)}s] ${m}`);
  const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
  const ytdlpPath = process.env.YTDLP_PATH ?? 'yt-dlp';
  const probe = await probeYtdlp(ytdlpPath);
  if (!probe.version) throw new Error(`yt-dlp not found at ${ytdlpPath}`);
  const scratchDir = await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-bench-scratch-'));
  const media = await startMediaServer();
  const metrics: Metrics = {};
  const failures: string[] = [];
  try {
    const ctx: BenchContext = {
      quick: args.quick,
      modes: await pickModes(redisUrl, log),
      redisUrl,
      media,
      ytdlpPath,
      features: probe.features,
      scratchDir,
      log,
    };
    log(`${machine()}; yt-dlp ${probe.version}; modes: ${ctx.modes.join(', ')}${args.quick ? '; quick' : ''}`);
    for (const bench of BENCHMARKS) {
      if (args.only && !args.only.includes(bench.name)) continue;
      log(`${bench.name}: start`);
      try {
        const left = (args.quick ? RUN_BUDGET_S.quick : RUN_BUDGET_S.full) - (Date.now() - startedAt) / 1000;
        const budget = Math.max(0, Math.min(args.quick ? bench.budget.quick : bench.budget.full, left));
        Object.assign(metrics, await withBudget(bench.name, budget, bench.run(ctx)));
      } catch (err) {
        failures.push(bench.name);
        log(`${bench.name} FAILED: ${(err as Error).stack ?? String(err)}`);
        await killAllChildren();
      }
    }
  } finally {
    await killAllChildren();
    await media.close();
    await rm(scratchDir, { recursive: true, force: true });
  }
  console.log(`\n${formatTable(metrics)}\n\nMachine: ${machine()}; yt-dlp ${probe.version}\n`);
  await writeFile(args.out, `${JSON.stringify(metrics, null, 2)}\n`);
  log(`wrote ${args.out} in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
  if (failures.length > 0) {
    log(`failed: ${failures.join(', ')}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    void killAllChildren().finally(() => process.exit(1));
  },
);
