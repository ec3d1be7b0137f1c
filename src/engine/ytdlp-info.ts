/**
 * The parts of yt-dlp's `-J` JSON that ultra-dl reads. yt-dlp adds fields freely, so everything is
 * optional and the raw object is kept as-is (it is fed back through `--load-info-json`).
 */

export interface YtdlpFormat {
  format_id?: string;
  ext?: string;
  width?: number | null;
  height?: number | null;
  vcodec?: string | null;
  acodec?: string | null;
  filesize?: number | null;
  filesize_approx?: number | null;
  /** Total bitrate in kbit/s (1000 bits). */
  tbr?: number | null;
  format_note?: string | null;
  protocol?: string;
  url?: string;
  duration?: number | null;
  [key: string]: unknown;
}

export interface YtdlpInfo {
  id?: string;
  title?: string;
  uploader?: string | null;
  channel?: string | null;
  /** Seconds; null or missing for live streams and many generic pages. */
  duration?: number | null;
  thumbnail?: string | null;
  thumbnails?: { url?: string }[] | null;
  is_live?: boolean | null;
  live_status?: string | null;
  webpage_url?: string;
  extractor?: string;
  /** Present when the URL is a playlist (`_type: "playlist"`); we always pass `--no-playlist`. */
  _type?: string;
  formats?: YtdlpFormat[] | null;
  [key: string]: unknown;
}
