/**
 * ObjectStorage on local disk (SPEC §8): key `<jobId>/<name>` is the file `downloadDir/<jobId>/<name>`.
 * Keys never come from a request, but they are still checked so that no key can leave the directory.
 */
import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, copyFile, mkdir, open, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { AppError } from '../errors.js';
import type { ByteRange, ObjectMeta, ObjectStat, ObjectStorage, PutResult } from './object-storage.js';

export interface LocalStorageDeps {
  downloadDir: string;
}

/** The two parts of a storage key, checked. */
export interface ObjectKeyParts {
  jobId: string;
  name: string;
}

// A job id is one plain path segment; a leading dot would reach `.work` or hidden entries.
const JOB_ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
// File names come from yt-dlp's output template: anything but separators, NUL and dot-only names.
const FORBIDDEN_NAME_CHARS = /[/\\\0]/;

/** Throws unless `jobId` is one safe path segment. */
export function assertJobId(jobId: string): void {
  if (!JOB_ID_PATTERN.test(jobId)) {
    throw new AppError('system_error', { detail: `invalid storage job id: ${JSON.stringify(jobId)}` });
  }
}

/** Splits `<jobId>/<name>`, refusing anything that could resolve outside the job's directory. */
export function parseObjectKey(key: string): ObjectKeyParts {
  const slash = key.indexOf('/');
  const jobId = slash > 0 ? key.slice(0, slash) : '';
  const name = slash > 0 ? key.slice(slash + 1) : '';
  const badName =
    name === '' || name === '.' || name === '..' || FORBIDDEN_NAME_CHARS.test(name) || name.length > 255;
  if (!JOB_ID_PATTERN.test(jobId) || badName) {
    throw new AppError('system_error', { detail: `invalid storage key: ${JSON.stringify(key)}` });
  }
  return { jobId, name };
}

/**
 * The folder under `downloadDir` where workers download (SPEC §3): on the same device as the
 * finished files, so `put` is a rename. Its leading dot keeps it out of the job-id space.
 */
export const WORK_DIR_NAME = '.work';

export function workRootFor(downloadDir: string): string {
  return path.join(path.resolve(downloadDir), WORK_DIR_NAME);
}

/** `downloadDir/.work/<jobId>`, a job's work directory; throws unless the id is one plain segment. */
export function workDirFor(downloadDir: string, jobId: string): string {
  assertJobId(jobId);
  return path.join(workRootFor(downloadDir), jobId);
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === code;
}

export function createLocalStorage(deps: LocalStorageDeps) {
  const root = path.resolve(deps.downloadDir);

  const jobDir = (jobId: string): string => path.join(root, jobId);
  const fileOf = (key: string): string => {
    const { jobId, name } = parseObjectKey(key);
    return path.join(jobDir(jobId), name);
  };

  /** Moves `source` to `target`; across devices copies to a temporary name first, so readers never see half a file. */
  async function moveInto(source: string, target: string): Promise<void> {
    try {
      await rename(source, target);
      return;
    } catch (err) {
      if (!isErrno(err, 'EXDEV')) throw err;
    }
    const partial = `${target}.partial-${randomUUID()}`;
    try {
      // copyFile streams in the kernel (or copy_file_range); nothing is held in memory.
      await copyFile(source, partial);
      await rename(partial, target);
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
    await unlink(source);
  }

  const storage = {
    kind: 'local' as const,

    async put(key: string, filePath: string, _meta: ObjectMeta): Promise<PutResult> {
      const target = fileOf(key);
      await mkdir(path.dirname(target), { recursive: true });
      await moveInto(filePath, target);
      const info = await stat(target);
      return { key, size: info.size, storage: 'local' };
    },

    async stat(key: string): Promise<ObjectStat | null> {
      try {
        const info = await stat(fileOf(key));
        return info.isFile() ? { size: info.size, mtimeMs: info.mtimeMs } : null;
      } catch (err) {
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return null;
        throw err;
      }
    },

    async open(key: string, range?: ByteRange): Promise<Readable> {
      // Opening the descriptor first turns a missing file into a rejection here, not a stream error later.
      let handle;
      try {
        handle = await open(fileOf(key), 'r');
      } catch (err) {
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'EISDIR')) {
          throw new AppError('file_not_found', { detail: `no object ${key}`, cause: err });
        }
        throw err;
      }
      return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
    },

    async signedUrl(_key: string, _expiresAt: number, _meta: ObjectMeta): Promise<string | null> {
      return null;
    },

    async delete(key: string): Promise<void> {
      const file = fileOf(key);
      await rm(file, { force: true });
      // The job's directory goes with its last file; a non-empty or missing one is fine.
      await rmdir(path.dirname(file)).catch(() => undefined);
    },

    async deleteJob(jobId: string): Promise<void> {
      assertJobId(jobId);
      await rm(jobDir(jobId), { recursive: true, force: true });
    },

    async health(): Promise<'connected' | `error: ${string}`> {
      try {
        await mkdir(root, { recursive: true });
        await access(root, fsConstants.W_OK | fsConstants.X_OK);
        return 'connected';
      } catch (err) {
        return `error: ${(err as Error).message}`;
      }
    },
  } satisfies ObjectStorage;

  return storage;
}

export type LocalStorage = ReturnType<typeof createLocalStorage>;
