import { describe, expect, it } from 'vitest';
import type { YtdlpInfo } from '../../src/engine/ytdlp-info.js';
import {
  downloadTypeOfFormat,
  findFormat,
  formatSize,
  mapInfo,
  mapMeta,
  type FormatEntry,
} from '../../src/videos/format-mapping.js';

/** Shaped after a real YouTube `-J`: storyboards, DRC and multi-language audio, HLS, progressive. */
const INFO: YtdlpInfo = {
  id: 'dQw4w9WgXcQ',
  title: 'Ünïcode “title”',
  uploader: 'Someone',
  duration: 212,
  thumbnail: 'https://i.ytimg.com/vi/dQw4w9WgXcQ/maxresdefault.jpg',
  formats: [
    { format_id: 'sb0', ext: 'mhtml', vcodec: 'none', acodec: 'none', format_note: 'storyboard', width: 320, height: 180 },
    { format_id: 'sb1', ext: 'webp', vcodec: 'none', acodec: 'none' },
    { format_id: '139', ext: 'm4a', vcodec: 'none', acodec: 'mp4a.40.5', tbr: 48.8, filesize: 1_300_000, format_note: 'low' },
    { format_id: '140-0', ext: 'm4a', vcodec: 'none', acodec: 'mp4a.40.2', tbr: 129.5, filesize_approx: 3_400_000, format_note: 'English original, medium' },
    { format_id: '251-drc', ext: 'webm', vcodec: 'none', acodec: 'opus', tbr: 140, format_note: 'medium, DRC' },
    { format_id: '18', ext: 'mp4', width: 640, height: 360, vcodec: 'avc1.42001E', acodec: 'mp4a.40.2', filesize_approx: 9_000_000, format_note: '360p' },
    { format_id: '137', ext: 'mp4', width: 1920, height: 1080, vcodec: 'avc1.640028', acodec: 'none', filesize: 80_000_000, format_note: '1080p' },
    { format_id: '401', ext: 'mp4', width: 3840, height: 2160, vcodec: 'av01.0.12M.08', acodec: 'none', tbr: 12000, format_note: '2160p' },
    { format_id: '400', ext: 'mp4', width: 2560, height: 1440, vcodec: 'av01.0.12M.08', acodec: 'none', format_note: '1440p' },
    { format_id: '136', ext: 'mp4', width: 1280, height: 720, vcodec: 'avc1.4d401f', acodec: 'none', tbr: 1500 },
    { format_id: 'hls-1080p', ext: 'mp4', height: 1080, vcodec: 'avc1.640028', acodec: 'mp4a.40.2', tbr: 4000, protocol: 'm3u8_native' },
    { format_id: 'dash/bad id', ext: 'mp4', height: 480, vcodec: 'avc1', acodec: 'none' },
    { format_id: 'x'.repeat(65), ext: 'mp4', height: 480, vcodec: 'avc1', acodec: 'none' },
    { ext: 'mp4', height: 480, vcodec: 'avc1', acodec: 'none' },
  ],
};

function byId(formats: FormatEntry[], id: string): FormatEntry {
  const found = formats.find((f) => f.format_id === id);
  if (!found) throw new Error(`no ${id}`);
  return found;
}

describe('mapInfo', () => {
  const { meta, formats } = mapInfo(INFO);

  it('maps the metadata', () => {
    expect(meta).toEqual({
      id: 'dQw4w9WgXcQ',
      title: 'Ünïcode “title”',
      uploader: 'Someone',
      duration: 212,
      thumbnail: 'https://i.ytimg.com/vi/dQw4w9WgXcQ/maxresdefault.jpg',
    });
  });

  it('leaves out storyboards and ids with characters outside [A-Za-z0-9._-] or over 64 long', () => {
    expect(formats.map((f) => f.format_id)).toEqual([
      'hls-1080p',
      '18',
      '401',
      '400',
      '137',
      '136',
      '251-drc',
      '140-0',
      '139',
    ]);
  });

  it('orders video+audio, then video_only, then audio_only, each by height descending', () => {
    const rank = { 'video+audio': 0, video_only: 1, audio_only: 2 } as const;
    for (let i = 1; i < formats.length; i += 1) {
      const [a, b] = [formats[i - 1]!, formats[i]!];
      expect(rank[a.type] < rank[b.type] || (rank[a.type] === rank[b.type] && a.height >= b.height)).toBe(true);
    }
  });

  it('gives every entry exactly the SPEC keys', () => {
    for (const f of formats) {
      expect(Object.keys(f).sort()).toEqual(
        ['acodec', 'ext', 'filesize', 'format_id', 'height', 'note', 'quality_label', 'resolution', 'type', 'vcodec'].sort(),
      );
    }
  });

  it.each([
    ['18', { resolution: '640x360', height: 360, type: 'video+audio', quality_label: 'Standard', filesize: 9_000_000, note: '360p' }],
    ['137', { resolution: '1920x1080', height: 1080, type: 'video_only', quality_label: 'Great', filesize: 80_000_000, acodec: 'none' }],
    ['401', { height: 2160, quality_label: 'Ultra', filesize: Math.round((12000 * 1000 * 212) / 8) }],
    ['400', { height: 1440, quality_label: 'Excellent', filesize: null }],
    ['136', { height: 720, quality_label: 'Good', filesize: Math.round((1500 * 1000 * 212) / 8) }],
    ['hls-1080p', { resolution: '1080p', height: 1080, type: 'video+audio', quality_label: 'Great' }],
    ['251-drc', { resolution: 'audio only', height: 0, type: 'audio_only', vcodec: 'none', acodec: 'opus', ext: 'webm' }],
    ['140-0', { filesize: 3_400_000, type: 'audio_only', note: 'English original, medium' }],
    ['139', { filesize: 1_300_000, quality_label: 'Standard' }],
  ] as [string, Partial<FormatEntry>][])('maps %s', (id, expected) => {
    expect(byId(formats, id)).toMatchObject(expected);
  });
});

describe('format rules for thin metadata', () => {
  it.each([
    // The generic extractor's progressive file: no codecs, no size, no dimensions.
    [{ format_id: 'mp4', ext: 'mp4' }, { type: 'video+audio', vcodec: 'unknown', acodec: 'unknown', resolution: 'unknown', height: 0, filesize: null, note: null }],
    [{ format_id: 'a', ext: 'm4a', vcodec: null }, { type: 'audio_only', resolution: 'audio only', height: 0, vcodec: 'unknown' }],
    [{ format_id: 'a', ext: 'mp3' }, { type: 'audio_only', acodec: 'unknown' }],
    [{ format_id: 'a', ext: 'opus', vcodec: 'none', acodec: 'opus' }, { type: 'audio_only' }],
    [{ format_id: 'a', ext: 'webm', acodec: 'none' }, { type: 'video_only', vcodec: 'unknown', acodec: 'none' }],
    [{ format_id: 'a', ext: 'mp4', height: 480.4 }, { resolution: '480p', height: 480 }],
    [{ format_id: 'a', ext: 'mp4', width: 100 }, { resolution: 'unknown', height: 0 }],
    [{ format_id: 'a', ext: 'm4a', vcodec: 'none', acodec: 'aac', height: 0, width: 0 }, { resolution: 'audio only' }],
    [{ format_id: 'a', ext: 'mp4', tbr: 800, duration: 10 }, { filesize: 1_000_000 }],
  ] as [Record<string, unknown>, Partial<FormatEntry>][])('%j → %j', (format, expected) => {
    const { formats } = mapInfo({ formats: [format] });
    expect(formats).toHaveLength(1);
    expect(formats[0]).toMatchObject(expected);
  });

  it('never returns null codecs', () => {
    const { formats } = mapInfo({ formats: [{ format_id: 'a', vcodec: null, acodec: undefined }] });
    expect(formats[0]!.vcodec).toBe('unknown');
    expect(formats[0]!.acodec).toBe('unknown');
    expect(formats[0]!.ext).toBe('unknown');
  });

  it('keeps a null duration and a missing thumbnail as null, and takes the best listed thumbnail', () => {
    expect(mapMeta({ id: 'x', title: 't', duration: null })).toEqual({ id: 'x', title: 't', uploader: null, duration: null, thumbnail: null });
    expect(mapMeta({ channel: 'C', thumbnails: [{ url: 'small' }, { url: 'big' }] })).toMatchObject({ uploader: 'C', thumbnail: 'big' });
  });

  it('copes with no formats at all', () => {
    expect(mapInfo({ id: 'x' }).formats).toEqual([]);
    expect(mapInfo({ id: 'x', formats: null }).formats).toEqual([]);
  });
});

describe('findFormat and types', () => {
  const { formats } = mapInfo(INFO);

  it.each([
    ['137', 'video-only'],
    ['18', 'video-audio'],
    ['251-drc', 'audio-only'],
    ['137+140-0', 'video-audio'],
    ['bestvideo+bestaudio', 'video-audio'],
    ['137+bestaudio', 'video-audio'],
    ['best', 'video-audio'],
    ['bestaudio', 'audio-only'],
    ['worstvideo', 'video-only'],
  ])('%s is allowed as %s', (id, type) => {
    expect(findFormat(formats, id)).toEqual({ type });
  });

  it.each(['999', '137+999', 'sb0', 'dash/bad id', '999+140-0'])('%s is not listed', (id) => {
    expect(findFormat(formats, id)).toBeNull();
  });

  it('maps entry types to download types', () => {
    expect(downloadTypeOfFormat({ type: 'video+audio' })).toBe('video-audio');
    expect(downloadTypeOfFormat({ type: 'video_only' })).toBe('video-only');
    expect(downloadTypeOfFormat({ type: 'audio_only' })).toBe('audio-only');
  });

  it('sizes a part by filesize, else filesize_approx, else tbr × duration, else null', () => {
    expect(formatSize(INFO, '137')).toBe(80_000_000);
    expect(formatSize(INFO, '140-0')).toBe(3_400_000);
    expect(formatSize(INFO, '136')).toBe(Math.round((1500 * 1000 * 212) / 8));
    expect(formatSize(INFO, '400')).toBeNull();
    expect(formatSize(INFO, 'nope')).toBeNull();
  });
});
