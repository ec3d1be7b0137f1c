import { describe, expect, it } from 'vitest';
import { probeFfmpeg, probeYtdlp, resolveExecutable } from '../../src/engine/ytdlp-probe.js';
import { spawnYtdlp } from '../../src/engine/ytdlp-runner.js';
import { AppError } from '../../src/errors.js';

describe('probes of the installed binaries', () => {
  it('reads the yt-dlp version and its features', async () => {
    const probe = await probeYtdlp(process.env.YTDLP_PATH ?? 'yt-dlp');
    expect(probe.version).toMatch(/^\d{4}\.\d{2}\.\d{2}/);
    expect(typeof probe.features.jsRuntimes).toBe('boolean');
  });

  it('reports a missing yt-dlp as null', async () => {
    expect((await probeYtdlp('/nonexistent/yt-dlp')).version).toBeNull();
  });

  it('reads the ffmpeg version, or null when missing', async () => {
    expect(await probeFfmpeg(process.env.FFMPEG_PATH ?? 'ffmpeg')).toMatch(/^\d|^n\d|^N-/);
    expect(await probeFfmpeg('/nonexistent/ffmpeg')).toBeNull();
  });

  it('resolves a bare command on PATH to an absolute path', () => {
    expect(resolveExecutable('sh')).toMatch(/^\/.*\/sh$/);
    expect(resolveExecutable('surely-not-a-command-here')).toBeNull();
    expect(resolveExecutable('/nonexistent/ffmpeg')).toBeNull();
  });
});

describe('spawnYtdlp', () => {
  it('rejects with system_error when the binary cannot be started', async () => {
    const err = await spawnYtdlp('/nonexistent/yt-dlp', ['--version']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).category).toBe('system_error');
  });

  it('kills the whole group, grandchildren included, on abort', async () => {
    const controller = new AbortController();
    let pid = 0;
    const started = spawnYtdlp('sh', ['-c', 'sleep 30 & sleep 30 & echo ready; wait'], {
      signal: controller.signal,
      onSpawn: (p) => (pid = p),
      onLine: (line) => {
        if (line === 'ready') controller.abort(new Error('stop'));
      },
    });
    const err = await started.catch((e: unknown) => e);
    expect((err as Error).message).toBe('stop');
    expect(() => process.kill(-pid, 0)).toThrow();
  });

  it('reports a timeout and a non-zero exit without throwing', async () => {
    const slow = await spawnYtdlp('sh', ['-c', 'sleep 30'], { timeoutMs: 200 });
    expect(slow.timedOut).toBe(true);
    const failed = await spawnYtdlp('sh', ['-c', 'echo oops >&2; exit 3']);
    expect(failed).toMatchObject({ exitCode: 3, timedOut: false, stderr: 'oops\n' });
  });
});
