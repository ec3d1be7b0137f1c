import { describe, expect, it } from 'vitest';
import { downloadArgs, escapeTemplate, infoArgs, OUTPUT_TEMPLATE, PROGRESS_TEMPLATE } from '../../src/engine/ytdlp-args.js';
import { NO_FEATURES, parseYtdlpFeatures } from '../../src/engine/ytdlp-probe.js';

const URL = 'https://www.youtube.com/watch?v=dQw4w9WgXcQ';
const NEW = { jsRuntimes: true, progressDelta: true };

function after(args: string[], option: string): string | undefined {
  const i = args.indexOf(option);
  return i >= 0 ? args[i + 1] : undefined;
}

describe('infoArgs', () => {
  it('always ignores config, refuses playlists, prints lines, and ends with -- URL', () => {
    const args = infoArgs(URL, { features: NO_FEATURES });
    expect(args.slice(0, 3)).toEqual(['--ignore-config', '--no-playlist', '--newline']);
    expect(args).toContain('-J');
    expect(args.slice(-2)).toEqual(['--', URL]);
    expect(args).not.toContain('--js-runtimes');
  });

  it('adds newer options only when the probe found them', () => {
    expect(after(infoArgs(URL, { features: NEW }), '--js-runtimes')).toBe('node');
  });

  it('passes cookies and proxy as separate arguments', () => {
    const args = infoArgs(URL, { features: NO_FEATURES, cookiesFile: '/secrets/c.txt', proxy: 'http://p:3128' });
    expect(after(args, '--cookies')).toBe('/secrets/c.txt');
    expect(after(args, '--proxy')).toBe('http://p:3128');
  });

  it.each(['--exec=touch /tmp/x', '-oevil', 'file:///etc/passwd', 'ftp://x/y'])('refuses to pass %s as a URL', (url) => {
    expect(() => infoArgs(url, { features: NO_FEATURES })).toThrow();
  });
});

describe('downloadArgs', () => {
  const base = { features: NO_FEATURES, url: URL, formatId: '137', workDir: '/data/jobs/abc', finalPathFile: '/data/jobs/abc/.final' };

  it('builds a single-format download into the work dir', () => {
    const args = downloadArgs(base);
    expect(args.slice(0, 3)).toEqual(['--ignore-config', '--no-playlist', '--newline']);
    expect(after(args, '-f')).toBe('137');
    expect(after(args, '-P')).toBe('/data/jobs/abc');
    expect(after(args, '-o')).toBe(OUTPUT_TEMPLATE);
    expect(after(args, '--progress-template')).toBe(PROGRESS_TEMPLATE);
    expect(args.slice(args.indexOf('--print-to-file'), args.indexOf('--print-to-file') + 3)).toEqual([
      '--print-to-file',
      'after_move:filepath',
      '/data/jobs/abc/.final',
    ]);
    expect(args).not.toContain('--merge-output-format');
    expect(args).not.toContain('--max-filesize');
    expect(args).not.toContain('--progress-delta');
    expect(args.slice(-2)).toEqual(['--', URL]);
  });

  it('merges A+B into mp4', () => {
    expect(after(downloadArgs({ ...base, formatId: '137+140' }), '--merge-output-format')).toBe('mp4');
  });

  it('passes limits, ffmpeg location, fragments and newer options', () => {
    const args = downloadArgs({ ...base, features: NEW, maxFilesize: 2 * 1024 ** 3, ffmpegLocation: '/usr/bin/ffmpeg', concurrentFragments: 4 });
    expect(after(args, '--max-filesize')).toBe(String(2 * 1024 ** 3));
    expect(after(args, '--ffmpeg-location')).toBe('/usr/bin/ffmpeg');
    expect(after(args, '--concurrent-fragments')).toBe('4');
    expect(after(args, '--progress-delta')).toBe('0.25');
    expect(after(args, '--js-runtimes')).toBe('node');
  });

  it('uses --load-info-json instead of the URL when metadata is saved', () => {
    const args = downloadArgs({ ...base, infoJsonFile: '/data/jobs/abc/info.json' });
    expect(args.slice(-2)).toEqual(['--load-info-json', '/data/jobs/abc/info.json']);
    expect(args).not.toContain('--');
    expect(args).not.toContain(URL);
  });

  it('escapes % in the templated --print-to-file path', () => {
    const args = downloadArgs({ ...base, workDir: '/d/100%', finalPathFile: '/d/100%/.final' });
    expect(after(args, 'after_move:filepath')).toBe('/d/100%%/.final');
    expect(after(args, '-P')).toBe('/d/100%');
    expect(escapeTemplate('%(id)s')).toBe('%%(id)s');
  });

  it('needs a URL or saved metadata', () => {
    expect(() => downloadArgs({ ...base, url: null })).toThrow();
  });
});

describe('parseYtdlpFeatures', () => {
  it('finds newer options in --help text', () => {
    const help = [
      '    --js-runtimes RUNTIME[:PATH]    Additional JavaScript runtime to enable',
      '    --progress-delta SECONDS        Time between progress output',
    ].join('\n');
    expect(parseYtdlpFeatures(help)).toEqual({ jsRuntimes: true, progressDelta: true });
  });

  it('finds none in an old --help, and is not fooled by prefixes', () => {
    expect(parseYtdlpFeatures('    --newline  Output progress bar as new lines\n    --no-js-runtimes-x  x')).toEqual(NO_FEATURES);
  });
});
