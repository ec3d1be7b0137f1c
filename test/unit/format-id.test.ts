import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { downloadTypeFromId, isMerged, isSelector, parseFormatId, parts } from '../../src/videos/format-id.js';

function reasonOf(input: unknown): string | undefined {
  try {
    parseFormatId(input);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).category).toBe('invalid_request');
    return (err as AppError).fields?.format_id;
  }
  return undefined;
}

describe('parseFormatId', () => {
  it.each(['137', '251-drc', '140-0', 'hls-1080p', '1', 'mp4', 'video-360p', 'audio', 'a.b_c-d', '137+140', 'video-240p+audio', 'bestvideo+bestaudio', 'best', 'worstaudio', 'x'.repeat(64), `${'a'.repeat(64)}+${'b'.repeat(64)}`])(
    'accepts %s unchanged',
    (id) => {
      expect(parseFormatId(id)).toBe(id);
    },
  );

  it.each([
    [undefined, 'is required'],
    [null, 'is required'],
    ['', 'must not be empty'],
    [137, 'must be a string'],
    [['137'], 'must be a string'],
    ['1+2+3', 'may combine at most two formats (A+B)'],
    ['137+', 'must not have an empty part'],
    ['+140', 'must not have an empty part'],
    ['x'.repeat(65), 'each part must be at most 64 characters'],
    [`137+${'y'.repeat(65)}`, 'each part must be at most 64 characters'],
    ['137 ', 'may only contain letters, digits, ".", "_" and "-"'],
    ['best[height<=720]', 'may only contain letters, digits, ".", "_" and "-"'],
    ['137/140', 'may only contain letters, digits, ".", "_" and "-"'],
    ['--exec=rm', 'may only contain letters, digits, ".", "_" and "-"'],
    ['ö', 'may only contain letters, digits, ".", "_" and "-"'],
    ['a\u0000b', 'may only contain letters, digits, ".", "_" and "-"'],
  ])('refuses %j: %s', (input, reason) => {
    expect(reasonOf(input)).toBe(reason);
  });
});

describe('downloadTypeFromId', () => {
  it.each([
    ['137+140', 'video-audio'],
    ['bestvideo+bestaudio', 'video-audio'],
    ['best', 'video-audio'],
    ['worst', 'video-audio'],
    ['bestvideo', 'video-only'],
    ['worstvideo', 'video-only'],
    ['bestaudio', 'audio-only'],
    ['worstaudio', 'audio-only'],
    ['18', 'video-audio'],
    ['22', 'video-audio'],
    ['139', 'audio-only'],
    ['140', 'audio-only'],
    ['171', 'audio-only'],
    ['172', 'audio-only'],
    ['249', 'audio-only'],
    ['250', 'audio-only'],
    ['251', 'audio-only'],
    ['248', 'video-only'],
    ['137', 'video-only'],
    ['hls-1080p', 'video-only'],
    ['mp4', 'video-only'],
  ])('%s → %s', (id, type) => {
    expect(downloadTypeFromId(id)).toBe(type);
  });
});

describe('helpers', () => {
  it('tells selectors from ids', () => {
    expect(['best', 'worst', 'bestvideo', 'bestaudio', 'worstvideo', 'worstaudio'].every(isSelector)).toBe(true);
    expect(isSelector('137')).toBe(false);
    expect(isSelector('bestvideo+bestaudio')).toBe(false);
    expect(isSelector('Best')).toBe(false);
  });

  it('splits A+B into its parts', () => {
    expect(parts('137+140')).toEqual(['137', '140']);
    expect(parts('251-drc')).toEqual(['251-drc']);
    expect(isMerged('137+140')).toBe(true);
    expect(isMerged('137')).toBe(false);
  });
});
