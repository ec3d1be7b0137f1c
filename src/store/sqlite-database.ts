/**
 * The embedded mode's single SQLite file. Stores and the queue share one connection; whoever
 * opens it closes it, after closing the stores and the queue built on it.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { applyMigrations } from './migrations.js';

export type { Database } from 'better-sqlite3';

export const DATABASE_FILE = 'ultra-dl.sqlite';

/**
 * How long a statement waits for another connection's write lock before failing. Only a second
 * process on the same file (a mis-deployment, or a CLI tool) ever holds it.
 */
const BUSY_TIMEOUT_MS = 5_000;

/** Opens (creating if missing) `<dataDir>/ultra-dl.sqlite` and upgrades its schema. */
export function openDatabase(dataDir: string): Database {
  mkdirSync(dataDir, { recursive: true });
  const db = new BetterSqlite3(path.join(dataDir, DATABASE_FILE));
  try {
    // WAL lets readers proceed during a write; NORMAL sync is durable across process crashes,
    // which is what the queue needs (a power loss may drop the last transactions, not corrupt).
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('foreign_keys = ON');
    applyMigrations(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
