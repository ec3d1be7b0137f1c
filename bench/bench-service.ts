/**
 * Child processes of a benchmark run: the built `ultra-dl serve` (embedded or distributed) and the
 * bare baseline servers. Every process started here is registered, so the runner can kill whatever
 * is left when a benchmark throws.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** `dist/src/main.js`, next to this file's `dist/bench/`. */
export const MAIN_JS = path.resolve(HERE, '../src/main.js');
export const BARE_SERVER_JS = path.resolve(HERE, 'bare-server.js');

export type Mode = 'embedded' | 'distributed';

const live = new Set<ChildProcess>();

/** Temp dirs and Redis prefixes of services not stopped yet. */
const pendingCleanups = new Set<() => Promise<void>>();

/**
 * Kills every child still running (SIGKILL) and removes what their services left (temp dirs,
 * Redis keys): the runner's last resort when a benchmark throws or runs over its budget.
 */
export async function killAllChildren(): Promise<void> {
  const procs = [...live];
  live.clear();
  // Gone before their keys are deleted, so no late write of theirs outlives the cleanup.
  const exits = procs
    .filter((proc) => proc.exitCode === null && proc.signalCode === null)
    .map((proc) => new Promise<void>((resolve) => proc.once('exit', () => resolve())));
  for (const proc of procs) proc.kill('SIGKILL');
  await Promise.all(exits);
  const cleanups = [...pendingCleanups];
  pendingCleanups.clear();
  await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** The URL from the child's "listening" line. */
  url: string;
  output(): string;
  /** Resident set size now, in bytes (from /proc). */
  rss(): Promise<number>;
  stop(): Promise<void>;
}

export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m?.[1]) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

const POLL_MS = 100;

/** Resolves with `url` once any HTTP answer comes from `${url}/health`, unless `stop()` first. */
async function pollUntilAnswering(url: string, stop: () => boolean): Promise<string> {
  while (!stop()) {
    try {
      await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      return url;
    } catch {
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
  return url;
}

/** A free TCP port on 127.0.0.1 (closed again; the child binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** CPU time (user + system, seconds) `pid` has used so far, from /proc; 10 ms resolution. */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ, 100 on every Linux build we run on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Spawns `node <script> ...args` and resolves once it is `ready`. */
export async function spawnChild(
  script: string,
  args: string[],
  env: Record<string, string>,
  /** A stdout line whose group 1 is the URL, or a URL that answers HTTP once ready. */
  ready: RegExp | { url: string },
  timeoutMs = 30_000,
): Promise<Child> {
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` first`);
  // BENCH_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) profiles the children.
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const proc = spawn(process.execPath, [...nodeArgs, script, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let out = '';
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  void exited.then(() => live.delete(proc));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start in time:\n${out}`)), timeoutMs);
    let found = false;
    const done = (u: string) => {
      if (found) return;
      found = true;
      clearTimeout(timer);
      resolve(u);
    };
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = ready instanceof RegExp ? ready.exec(out) : null;
      if (m?.[1]) done(m[1].replace('0.0.0.0', '127.0.0.1'));
    });
    proc.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    if (!(ready instanceof RegExp)) void pollUntilAnswering(ready.url, () => found || proc.exitCode !== null).then(done);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${script} exited before it was ready:\n${out.slice(-4000)}`));
    });
  }).catch((err: unknown) => {
    proc.kill('SIGKILL');
    throw err;
  });
  const pid = proc.pid!;
  return {
    proc,
    pid,
    url,
    output: () => out,
    rss: () => rssOf(pid),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface Service extends Child {
  mode: Mode;
  downloadDir: string;
}

export interface ServiceOptions {
  mode: Mode;
  redisUrl: string;
  env?: Record<string, string>;
}

/**
 * The built `ultra-dl serve` with its own temp dirs (and, distributed, its own Redis key prefix,
 * whose keys are deleted on stop).
 */
export async function startService(opts: ServiceOptions): Promise<Service> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ultra-dl-bench-'));
  const prefix = `bench:${randomBytes(6).toString('hex')}:`;
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    ALLOWED_HOSTS: '127.0.0.1',
    DATA_DIR: path.join(root, 'data'),
    DOWNLOAD_DIR: path.join(root, 'downloads'),
    MIN_FREE_DISK_MB: '0',
    LOG_LEVEL: 'warn',
    ...(opts.mode === 'distributed' ? { REDIS_URL: opts.redisUrl, REDIS_PREFIX: prefix } : {}),
    ...opts.env,
  };
  pendingCleanups.add(cleanup);
  let child: Child;
  try {
    child = await spawnChild(MAIN_JS, ['serve'], env, { url: `http://127.0.0.1:${port}` });
  } catch (err) {
    await cleanup();
    throw err;
  }
  async function cleanup() {
    pendingCleanups.delete(cleanup);
    await rm(root, { recursive: true, force: true });
    if (opts.mode === 'distributed') await deleteRedisPrefix(opts.redisUrl, prefix);
  }
  return {
    ...child,
    mode: opts.mode,
    downloadDir: env.DOWNLOAD_DIR!,
    async stop() {
      await child.stop();
      await cleanup();
    },
  };
}

export async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** True when Redis answers PING at `redisUrl` (distributed benchmarks are skipped otherwise). */
export async function redisAvailable(redisUrl: string): Promise<boolean> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** A bare baseline server (`bare-server.js <kind> ...args`) in its own process, like ours. */
export function startBareServer(kind: string, args: string[] = []): Promise<Child> {
  return spawnChild(BARE_SERVER_JS, [kind, ...args], {}, /^listening (http\S+)$/m);
}
