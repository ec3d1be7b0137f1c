/**
 * Runs yt-dlp without a shell in its own process group, so that cancel and timeout can kill it
 * together with the ffmpeg it starts (SPEC §3). A child that outlives its job is a bug: the group is
 * killed on abort, on timeout, after a normal exit if anything is left, and when this process exits.
 */
import { spawn } from 'node:child_process';
import { AppError } from '../errors.js';

export interface RunOptions {
  signal?: AbortSignal;
  /** Kill the run after this long; the result then has `timedOut: true`. */
  timeoutMs?: number;
  /** Each stdout line (without the newline), as it arrives. */
  onLine?: (line: string) => void;
  /** Keep the whole stdout (for `-J`) up to this many bytes, instead of only its tail. */
  collectStdoutBytes?: number;
  /** Called once the process exists, with its pid (= its process group id). */
  onSpawn?: (pid: number) => void;
}

export interface RunResult {
  exitCode: number | null;
  timedOut: boolean;
  /** The last `STDERR_TAIL_BYTES` of stderr. */
  stderr: string;
  /** The whole stdout when `collectStdoutBytes` was given, else its last `STDOUT_TAIL_BYTES`. */
  stdout: string;
  /** True when stdout went over `collectStdoutBytes`. */
  stdoutTruncated: boolean;
}

/** yt-dlp's stderr tail kept for error mapping and logs; its errors are the last lines. */
export const STDERR_TAIL_BYTES = 64 * 1024;
export const STDOUT_TAIL_BYTES = 64 * 1024;
/** After SIGTERM the group gets this long to exit before SIGKILL (SPEC: gone within ~2 s). */
export const KILL_GRACE_MS = 1000;
const GROUP_POLL_MS = 25;

/** Process groups still running, killed synchronously if this process exits first. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  });
}

function signalGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false; // ESRCH: no process left in the group
  }
}

/** True while any process of the group `pgid` is alive. */
export function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0);
}

async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (groupAlive(pgid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, GROUP_POLL_MS));
  }
  return true;
}

/** SIGTERM, a grace period, then SIGKILL, until no process of the group is left. */
export async function killGroup(pgid: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  if (await waitGroupGone(pgid, KILL_GRACE_MS)) return;
  signalGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, KILL_GRACE_MS);
}

class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly limit: number, private readonly keepHead: boolean) {}
  push(chunk: Buffer): void {
    if (this.keepHead) {
      if (this.size + chunk.length > this.limit) {
        this.truncated = true;
        return;
      }
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (!this.keepHead && this.size > this.limit && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length;
    }
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * Runs `file args` and resolves when it and its process group are gone. Rejects with the signal's
 * reason on abort (after the group is dead, so the caller may remove its files) and with
 * `system_error` when the binary cannot be started.
 */
export function spawnYtdlp(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const { signal } = opts;
  if (signal?.aborted) return Promise.reject(signal.reason);
  installExitHook();
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], shell: false });
    const stderr = new Tail(STDERR_TAIL_BYTES, false);
    const collect = opts.collectStdoutBytes !== undefined;
    const stdout = new Tail(opts.collectStdoutBytes ?? STDOUT_TAIL_BYTES, collect);
    let pending = '';
    let timedOut = false;
    let aborted = false;
    let killing: Promise<void> | null = null;
    const pgid = child.pid;

    const stop = () => {
      if (pgid !== undefined && !killing) killing = killGroup(pgid);
    };
    const onAbort = () => {
      aborted = true;
      stop();
    };
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            stop();
          }, opts.timeoutMs)
        : undefined;
    signal?.addEventListener('abort', onAbort, { once: true });
    if (pgid !== undefined) {
      liveGroups.add(pgid);
      opts.onSpawn?.(pgid);
    }

    child.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      if (!opts.onLine) return;
      pending += chunk.toString('utf8');
      const lines = pending.split(/\r?\n|\r/);
      pending = lines.pop() ?? '';
      for (const line of lines) if (line !== '') opts.onLine(line);
    });
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));

    let spawnError: Error | null = null;
    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('close', (exitCode) => {
      void (async () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (pending !== '' && opts.onLine) opts.onLine(pending);
        if (pgid !== undefined) {
          await killing;
          // Anything still in the group (an ffmpeg whose parent died) goes too.
          if (groupAlive(pgid)) await killGroup(pgid);
          liveGroups.delete(pgid);
        }
        if (aborted) return reject(signal?.reason);
        if (spawnError) {
          return reject(new AppError('system_error', { detail: `cannot run ${file}: ${spawnError.message}`, cause: spawnError }));
        }
        resolve({
          exitCode,
          timedOut,
          stderr: stderr.text(),
          stdout: stdout.text(),
          stdoutTruncated: stdout.truncated,
        });
      })();
    });
  });
}
