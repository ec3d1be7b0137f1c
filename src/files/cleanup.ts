/**
 * Retention (SPEC §8): expired files go (their tokens stay as 410 tombstones), expired job records
 * go with their tokens and files, and directories nobody owns any more are swept once they are old.
 */
import type { Dirent } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { isActive } from '../downloads/job.js';
import { WORK_DIR_NAME, assertJobId, workRootFor } from '../storage/local-storage.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import type { JobStore } from '../store/job-store.js';
import type { TokenRecord, TokenStore } from '../store/token-store.js';

/**
 * A directory untouched this long with no live job is an orphan (SPEC §8: "older than an hour").
 * Downloads write continuously, so a live work directory is always much younger than this.
 */
export const ORPHAN_AGE_MS = 60 * 60 * 1000;
/** Expired tokens handled per store call: small enough for one Redis round-trip or SQLite statement. */
export const TOKEN_BATCH_SIZE = 200;
/** Expired job ids fetched per store call. */
export const JOB_BATCH_SIZE = 200;
/** Bounds one run (10,000 items per kind); whatever is left waits for the next interval. */
export const MAX_BATCHES_PER_RUN = 50;

const STORAGE_KINDS = ['local', 'gcs'] as const;

export interface CleanupDeps {
  jobs: Pick<JobStore, 'expired' | 'delete' | 'get'>;
  tokens: Pick<TokenStore, 'expire' | 'revokeForJob'>;
  storageFor(kind: 'local' | 'gcs'): ObjectStorage | null;
  downloadDir: string;
  jobTtlMs: number;
  logger: Logger;
  clock?: () => number;
  /** Defaults to ORPHAN_AGE_MS. */
  orphanAgeMs?: number;
}

export interface CleanupReport {
  /** Tokens turned into tombstones this run. */
  expiredTokens: number;
  /** Objects deleted for those tokens. */
  filesDeleted: number;
  /** Job records deleted, with their tokens and files. */
  expiredJobs: number;
  /** Job directories in `downloadDir` without a job. */
  orphanDirsRemoved: number;
  /** Work directories under `.work/` of no active job. */
  workDirsRemoved: number;
  /** Items that failed and were logged; they are retried by later runs. */
  failures: number;
}

/** Whether a job still needs its work directory. */
export type ActiveJobs = Set<string> | ((jobId: string) => Promise<boolean>);

function isJobId(name: string): boolean {
  try {
    assertJobId(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * The newest mtime of a directory and its direct entries: a download appending to a `.part` file
 * changes the file's mtime, not the directory's.
 */
async function lastTouched(dir: string): Promise<number> {
  let newest = (await stat(dir)).mtimeMs;
  for (const entry of await readdir(dir)) {
    const info = await stat(path.join(dir, entry)).catch(() => null);
    if (info && info.mtimeMs > newest) newest = info.mtimeMs;
  }
  return newest;
}

async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export function createCleanup(deps: CleanupDeps) {
  const clock = deps.clock ?? Date.now;
  const orphanAgeMs = deps.orphanAgeMs ?? ORPHAN_AGE_MS;
  const log = deps.logger;

  const isOld = async (dir: string): Promise<boolean> => clock() - (await lastTouched(dir)) > orphanAgeMs;

  async function deleteTokenFile(record: TokenRecord): Promise<boolean> {
    const storage = deps.storageFor(record.file.storage);
    if (!storage) {
      log.warn({ jobId: record.jobId, storage: record.file.storage }, 'cannot delete an expired file: storage not configured');
      return false;
    }
    await storage.delete(record.file.key);
    return true;
  }

  async function expireTokens(report: CleanupReport, now: number): Promise<void> {
    for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
      const records = await deps.tokens.expire(now, TOKEN_BATCH_SIZE);
      report.expiredTokens += records.length;
      for (const record of records) {
        try {
          if (await deleteTokenFile(record)) report.filesDeleted += 1;
          else report.failures += 1;
        } catch (err) {
          // The token is a tombstone already; the job's expiry deletes the whole job later anyway.
          report.failures += 1;
          log.warn({ err, jobId: record.jobId }, 'deleting an expired file failed');
        }
      }
      if (records.length < TOKEN_BATCH_SIZE) return;
    }
  }

  async function deleteJob(jobId: string): Promise<void> {
    // Its tokens are left to expire on their own: an expired link must keep answering 410 for
    // TOMBSTONE_MS, which outlasts the job record (SPEC §2).
    // Every configured storage, not only those named by tokens: tombstones may be gone already, and
    // a fallback to local storage may have left a file there.
    for (const kind of STORAGE_KINDS) await deps.storageFor(kind)?.deleteJob(jobId);
    // The record goes last, so a failure above leaves it for the next run to retry.
    await deps.jobs.delete(jobId);
  }

  async function expireJobs(report: CleanupReport, now: number): Promise<void> {
    const failed = new Set<string>();
    for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
      const ids = await deps.jobs.expired(now - deps.jobTtlMs, JOB_BATCH_SIZE);
      const fresh = ids.filter((id) => !failed.has(id));
      for (const id of fresh) {
        try {
          await deleteJob(id);
          report.expiredJobs += 1;
        } catch (err) {
          failed.add(id);
          report.failures += 1;
          log.warn({ err, jobId: id }, 'deleting an expired job failed');
        }
      }
      // Stop when the store has nothing more, or hands back only jobs that already failed this run.
      if (ids.length < JOB_BATCH_SIZE || fresh.length === 0) return;
    }
  }

  async function sweepOrphanJobDirs(report: CleanupReport): Promise<void> {
    const root = path.resolve(deps.downloadDir);
    for (const entry of await listDir(root)) {
      if (!entry.isDirectory() || entry.name === WORK_DIR_NAME || !isJobId(entry.name)) continue;
      const dir = path.join(root, entry.name);
      try {
        if (!(await isOld(dir)) || (await deps.jobs.get(entry.name)) !== null) continue;
        await rm(dir, { recursive: true, force: true });
        report.orphanDirsRemoved += 1;
        log.info({ jobId: entry.name }, 'removed an orphaned job directory');
      } catch (err) {
        report.failures += 1;
        log.warn({ err, jobId: entry.name }, 'removing an orphaned job directory failed');
      }
    }
  }

  async function sweepWorkDirs(active: ActiveJobs): Promise<number> {
    const isLive = typeof active === 'function' ? active : async (id: string) => active.has(id);
    const root = workRootFor(deps.downloadDir);
    let removed = 0;
    for (const entry of await listDir(root)) {
      const target = path.join(root, entry.name);
      try {
        if (entry.isDirectory()) {
          // Age first: it is a local stat, the liveness check may be a store round-trip.
          if (!(await isOld(target)) || (isJobId(entry.name) && (await isLive(entry.name)))) continue;
        } else if (clock() - (await stat(target)).mtimeMs <= orphanAgeMs) {
          continue;
        }
        await rm(target, { recursive: true, force: true });
        removed += 1;
        log.info({ jobId: entry.name }, 'removed a stale work directory');
      } catch (err) {
        log.warn({ err, jobId: entry.name }, 'removing a stale work directory failed');
      }
    }
    return removed;
  }

  async function run(): Promise<CleanupReport> {
    const report: CleanupReport = {
      expiredTokens: 0,
      filesDeleted: 0,
      expiredJobs: 0,
      orphanDirsRemoved: 0,
      workDirsRemoved: 0,
      failures: 0,
    };
    const now = clock();
    await expireTokens(report, now);
    await expireJobs(report, now);
    await sweepOrphanJobDirs(report);
    report.workDirsRemoved = await sweepWorkDirs(async (id) => {
      const job = await deps.jobs.get(id);
      return job !== null && isActive(job.status);
    });
    const acted = Object.values(report).some((n) => n > 0);
    if (acted) log.info(report, 'cleanup finished');
    else log.debug(report, 'cleanup found nothing to do');
    return report;
  }

  return { run, sweepWorkDirs };
}

export type Cleanup = ReturnType<typeof createCleanup>;

/**
 * Runs `cleanup` every `intervalMs` (embedded mode). The timer does not hold the process open, a
 * run never starts while the previous one is still going, and failures are logged, never thrown.
 * `stop()` resolves once any run in progress has finished.
 */
export function startCleanupTimer(
  cleanup: Pick<Cleanup, 'run'>,
  intervalMs: number,
  logger: Logger,
): { stop(): Promise<void> } {
  let running: Promise<void> | null = null;
  const tick = (): void => {
    if (running) {
      logger.debug('cleanup still running; skipping this interval');
      return;
    }
    running = cleanup
      .run()
      .then(
        () => undefined,
        (err: unknown) => logger.error({ err }, 'cleanup run failed'),
      )
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
