/**
 * Runs the built `ultra-dl` command as a real child process (the same `dist/src/main.js` that
 * `npx ultra-dl` runs), for restart, signal and multi-process tests. `make test` builds first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAIN_JS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/src/main.js');

export interface SpawnedService {
  proc: ChildProcess;
  /** The API or worker-health URL from the "listening" log line. */
  url: string;
  output(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

export async function spawnService(
  command: 'serve' | 'api' | 'worker',
  env: Record<string, string>,
  options: { readyTimeoutMs?: number } = {},
): Promise<SpawnedService> {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run the build (make test does)`);
  const proc = spawn(process.execPath, [MAIN_JS, command], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | string>((resolve) => {
    proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command} did not start in time:\n${out}`)),
      options.readyTimeoutMs ?? 20_000,
    );
    let ready = false;
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (ready) return;
      for (const line of out.split('\n')) {
        const m = /"url":"(http[^"]+)".*"msg":"(?:ultra-dl API listening|worker health listening)"/.exec(line);
        if (m?.[1]) {
          clearTimeout(timer);
          ready = true;
          resolve(m[1]);
          return;
        }
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code}) before listening:\n${out}`));
    });
  });
  return {
    proc,
    url: url.replace('0.0.0.0', '127.0.0.1'),
    output: () => out,
    exited,
    kill: (signal = 'SIGTERM') => void proc.kill(signal),
  };
}
