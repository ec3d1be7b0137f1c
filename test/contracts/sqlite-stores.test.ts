import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCachedJobStore } from '../../src/store/cached-job-store.js';
import { openDatabase } from '../../src/store/sqlite-database.js';
import { createSqliteJobStore } from '../../src/store/sqlite-job-store.js';
import { createSqliteTokenStore } from '../../src/store/sqlite-token-store.js';
import { describeJobStoreContract } from './job-store.contract.js';
import { describeTokenStoreContract } from './token-store.contract.js';

const HOUR_MS = 3_600_000;

function freshDatabase() {
  const dir = mkdtempSync(path.join(tmpdir(), 'ultra-dl-sqlite-'));
  const db = openDatabase(dir);
  return {
    db,
    cleanup: async () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describeJobStoreContract('sqlite', async () => {
  const { db, cleanup } = freshDatabase();
  const store = createSqliteJobStore(db, { jobTtlMs: HOUR_MS });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await cleanup();
    },
  };
});

describeJobStoreContract('sqlite, cached', async () => {
  const { db, cleanup } = freshDatabase();
  const store = createCachedJobStore(createSqliteJobStore(db, { jobTtlMs: HOUR_MS }), { jobTtlMs: HOUR_MS });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await cleanup();
    },
  };
});

describeTokenStoreContract('sqlite', async () => {
  const { db, cleanup } = freshDatabase();
  const store = createSqliteTokenStore(db);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await cleanup();
    },
  };
});
