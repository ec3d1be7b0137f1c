/**
 * A bare Fastify with the app's error handling and the file route, over the real SQLite token store,
 * real local storage and the remote-storage fake; fresh for every test of the file that uses it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, expect } from 'vitest';
import { registerFileRoutes } from '../../src/files/file-routes.js';
import { newFileToken } from '../../src/files/token.js';
import { pino } from 'pino';
import { registerErrorHandling } from '../../src/http/error-handler.js';
import { createLocalStorage } from '../../src/storage/local-storage.js';
import type { ObjectStorage } from '../../src/storage/object-storage.js';
import { openDatabase } from '../../src/store/sqlite-database.js';
import { createSqliteTokenStore } from '../../src/store/sqlite-token-store.js';
import type { TokenRecord, TokenStore } from '../../src/store/token-store.js';
import { createRemoteStorageFake, type SignedUrlCall } from './remote-storage-fake.js';

export const MINUTE_MS = 60_000;
export const SIGNED_URL_TTL_SECONDS = 300;
export const fileUrl = (token: string): string => `/api/v1/downloads/file/${token}`;

export interface PublishOptions {
  name?: string;
  contentType?: string;
  storage?: 'local' | 'gcs';
  ttlMs?: number;
}

export interface FileRouteHarness {
  app: FastifyInstance;
  tokens: TokenStore;
  local: ObjectStorage;
  remote: ObjectStorage;
  signedUrlCalls: SignedUrlCall[];
  /** The route's clock; tests move it. */
  now: number;
  /** Whether `storageFor('gcs')` answers the remote storage or null. */
  gcsConfigured: boolean;
  /** Stores `data` as a finished file and issues a token for it, as a worker does. */
  publish(data: Buffer, options?: PublishOptions): Promise<TokenRecord>;
}

/** Registers the per-test set-up and tear-down and returns the harness they refresh. */
export function useFileRouteHarness(): FileRouteHarness {
  const h = {} as FileRouteHarness;
  let dirs: string[] = [];
  let closers: (() => unknown)[] = [];

  async function tempDir(prefix: string): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  }

  async function publish(data: Buffer, options: PublishOptions = {}): Promise<TokenRecord> {
    const jobId = randomUUID();
    const name = options.name ?? 'Clip.mp4';
    const source = path.join(await tempDir('file-routes-work-'), 'out.bin');
    await writeFile(source, data);
    const storage = options.storage === 'gcs' ? h.remote : h.local;
    const put = await storage.put(`${jobId}/${name}`, source, { contentType: 'video/mp4', downloadName: name });
    const record: TokenRecord = {
      token: newFileToken(),
      jobId,
      file: { key: put.key, name, size: put.size, contentType: options.contentType ?? 'video/mp4', storage: put.storage },
      createdAt: h.now,
      expiresAt: h.now + (options.ttlMs ?? 10 * MINUTE_MS),
    };
    await h.tokens.issue(record);
    return record;
  }

  beforeEach(async () => {
    const db = openDatabase(await tempDir('file-routes-db-'));
    const tokens = createSqliteTokenStore(db);
    const local = createLocalStorage({ downloadDir: await tempDir('file-routes-dl-') });
    const remoteFake = createRemoteStorageFake(await tempDir('file-routes-remote-'));
    // forceCloseConnections: fetch may leave a spare keep-alive socket open without a request, which
    // close() would otherwise wait out for the 72 s keep-alive timeout.
    const app = Fastify({ routerOptions: { ignoreTrailingSlash: true }, forceCloseConnections: true });
    Object.assign(h, {
      app,
      tokens,
      local,
      remote: remoteFake.storage,
      signedUrlCalls: remoteFake.signedUrlCalls,
      now: Date.now(),
      gcsConfigured: true,
      publish,
    });
    registerErrorHandling(app, pino({ level: 'silent' }));
    registerFileRoutes(app, {
      tokens,
      storageFor: (kind) => (kind === 'local' ? local : h.gcsConfigured ? h.remote : null),
      signedUrlTtlSeconds: SIGNED_URL_TTL_SECONDS,
      // Not the default 10, so the 410 message is seen to quote the configured lifetime.
      fileTtlMinutes: 15,
      clock: () => h.now,
    });
    await app.ready();
    closers = [() => app.close(), () => tokens.close(), () => db.close()];
  });

  afterEach(async () => {
    for (const close of closers) await close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    dirs = [];
  });

  return h;
}

/** Asserts the SPEC §2 error body with `category`. */
export function expectErrorBody(body: string, category: string): void {
  const parsed = JSON.parse(body) as Record<string, unknown>;
  expect(parsed).toMatchObject({ error: category });
  expect(typeof parsed.title).toBe('string');
  expect(typeof parsed.message).toBe('string');
  expect(typeof parsed.action).toBe('string');
}
