/**
 * What tests need of the test media (SPEC §12): the fixtures, the loopback media server and the
 * format ids yt-dlp (2023.03.04, generic extractor) assigns to them.
 */
export { DASH_HEIGHTS, DASH_SECONDS, ensureFixtures, FIXTURE_FILES, fixturesDir, PROGRESSIVE_SECONDS } from '../media/media-fixtures.js';
export { largeFixtureUrl, startMediaServer, type MediaServer, type MediaServerOptions } from '../media/media-server.js';

/** Format ids of `/video.mp4` and `/dash/manifest.mpd` as `yt-dlp -J` lists them. */
export const MEDIA_FORMAT_IDS = {
  /** The one format of the progressive file (video+audio). */
  progressive: 'mp4',
  /** DASH video-only representations by height. */
  dashVideo: { 144: 'video-144p', 240: 'video-240p', 360: 'video-360p' },
  /** The DASH audio-only representation. */
  dashAudio: 'audio',
} as const;

/** The hosts to allow for URLs of the media server (SPEC §12: `ALLOWED_HOSTS=127.0.0.1`). */
export const MEDIA_ALLOWED_HOSTS = ['127.0.0.1'];
