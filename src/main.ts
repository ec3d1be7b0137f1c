#!/usr/bin/env node
/**
 * The `ultra-dl` command: `serve` (API + worker in one process), `api`, `worker`. Parses config
 * once, starts the roles, and shuts down gracefully on SIGTERM/SIGINT.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { startRuntime, type Role } from './runtime.js';

const USAGE = `Usage: ultra-dl <command>

Commands:
  serve    the API, Socket.IO and a worker pool in one process (embedded mode without REDIS_URL)
  api      the API and Socket.IO only (distributed mode: needs REDIS_URL)
  worker   a download worker only (distributed mode: needs REDIS_URL)

Configuration comes from the environment; see the README for every variable.`;

const ROLES: Record<string, Role[]> = { serve: ['api', 'worker'], api: ['api'], worker: ['worker'] };

export async function main(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'serve';
  if (command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  const roles = ROLES[command];
  if (!roles) {
    console.error(`ultra-dl: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 2;
  }

  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`ultra-dl: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (command !== 'serve' && config.mode === 'embedded') {
    console.error(
      `ultra-dl: \`ultra-dl ${command}\` runs in distributed mode and needs REDIS_URL ` +
        '(e.g. REDIS_URL=redis://127.0.0.1:6379/0). Use `ultra-dl serve` for one process without Redis.',
    );
    return 2;
  }

  const logger = createLogger(config.logLevel);
  let runtime;
  try {
    runtime = await startRuntime({ config, roles, logger });
  } catch (err) {
    logger.fatal({ err }, 'could not start');
    console.error(`ultra-dl: could not start: ${(err as Error).message}`);
    return 1;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      // A hard deadline, in case something refuses to close within the grace period.
      const deadline = setTimeout(() => {
        logger.error('shutdown did not finish within SHUTDOWN_GRACE_SECONDS; exiting');
        resolve(1);
      }, (config.shutdownGraceSeconds + 5) * 1000);
      deadline.unref();
      runtime.shutdown().then(
        () => {
          clearTimeout(deadline);
          logger.info('stopped');
          resolve(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    // Through `npx ultra-dl` the script is a symlink in node_modules/.bin.
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Let pino flush, then leave even if a stray handle (e.g. a socket) would keep us alive.
      setTimeout(() => process.exit(code), 200).unref();
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
