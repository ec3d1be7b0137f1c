/**
 * One error family for the whole service (SPEC §2, §6). Domain code throws `AppError` with a stable
 * category; the HTTP layer turns it into the SPEC error body, the worker into a failed job.
 */

export const ERROR_CATEGORIES = [
  'invalid_url',
  'video_unavailable',
  'format_not_supported',
  'download_failed',
  'file_too_large',
  'rate_limited',
  'system_error',
  'job_not_found',
  'invalid_request',
  'network_error',
  'file_not_found',
  'file_expired',
  'geo_blocked',
  'login_required',
  'platform_rate_limited',
  'download_timeout',
  'unauthorized',
] as const;

export type ErrorCategory = (typeof ERROR_CATEGORIES)[number];

export interface ErrorText {
  title: string;
  message: string;
  action: string;
}

const ERROR_TEXTS: Record<ErrorCategory, ErrorText> = {
  invalid_url: {
    title: 'Invalid YouTube URL',
    message: "Please check the URL and make sure it's a valid YouTube link.",
    action: 'Try copying the URL directly from YouTube.',
  },
  video_unavailable: {
    title: 'Video Not Available',
    message: 'This video cannot be downloaded. It may be private, deleted, or restricted.',
    action: 'Try a different video or check if the video is publicly available.',
  },
  format_not_supported: {
    title: 'Format Not Supported',
    message: 'The selected video format is not available for download.',
    action: 'Please choose a different quality or format option.',
  },
  download_failed: {
    title: 'Download Failed',
    message: 'The download could not be completed due to an error.',
    action: 'Please try again. If the problem persists, try a different format.',
  },
  file_too_large: {
    title: 'File Too Large',
    message: 'The selected video file exceeds the maximum allowed size.',
    action: 'Try selecting a lower quality format to reduce file size.',
  },
  rate_limited: {
    title: 'Too Many Requests',
    message: "You've made too many requests in a short time.",
    action: 'Please wait a moment before trying again.',
  },
  system_error: {
    title: 'System Error',
    message: 'An unexpected error occurred while processing your request.',
    action: 'Please try again later. If the problem persists, contact support.',
  },
  job_not_found: {
    title: 'Job Not Found',
    message: 'The requested download job could not be found or has expired.',
    action: 'Please start a new download.',
  },
  invalid_request: {
    title: 'Invalid Request',
    message: 'The request is missing required information or contains invalid data.',
    action: 'Please check your input and try again.',
  },
  network_error: {
    title: 'Network Error',
    message: 'Unable to connect to YouTube or download the video.',
    action: 'Check your internet connection and try again.',
  },
  file_not_found: {
    title: 'File Not Found',
    message: 'The requested file could not be found or has been deleted.',
    action: 'Please download the video again.',
  },
  file_expired: {
    title: 'File Expired',
    // `{minutes}` is FILE_TTL_MINUTES, given by whoever raises the error (AppError `vars`).
    message: 'The download link has expired. Files are available for {minutes} minutes after download.',
    action: 'Please download the video again to get a new link.',
  },
  geo_blocked: {
    title: 'Content Not Available in Your Region',
    message:
      'This video is not available for download in your current location due to geographic restrictions.',
    action: 'Try using a VPN or check if the video is available in your region on YouTube directly.',
  },
  login_required: {
    title: 'Login Required',
    message: 'This video requires you to be logged in to YouTube to access it.',
    action:
      'This type of content cannot be downloaded automatically. Please watch it directly on YouTube.',
  },
  platform_rate_limited: {
    title: 'Platform Rate Limited',
    message:
      'YouTube is temporarily limiting download requests. This is normal and helps prevent abuse.',
    action:
      'Please wait a few minutes before trying again. Avoid making too many requests in a short time.',
  },
  download_timeout: {
    title: 'Download Timeout',
    message:
      'The download took too long to complete. This usually happens with large files or slow internet connections.',
    action:
      'Try selecting a lower quality format, or check your internet connection and try again.',
  },
  unauthorized: {
    title: 'Unauthorized',
    message: 'A valid API key is required.',
    action: 'Provide your API key in the X-API-Key header.',
  },
};

/** Values for the placeholders of a text: `{minutes}` of `file_expired` (default 10, SPEC §6). */
export interface TextVars {
  minutes?: number;
}

export function errorText(category: ErrorCategory, vars: TextVars = {}): ErrorText {
  const text = ERROR_TEXTS[category];
  return { ...text, message: text.message.replace('{minutes}', String(vars.minutes ?? 10)) };
}

export function isErrorCategory(value: unknown): value is ErrorCategory {
  return typeof value === 'string' && (ERROR_CATEGORIES as readonly string[]).includes(value);
}

/** The HTTP status each category answers with when nothing more specific is given. */
const DEFAULT_STATUS: Record<ErrorCategory, number> = {
  invalid_url: 400,
  video_unavailable: 400,
  format_not_supported: 400,
  download_failed: 400,
  file_too_large: 400,
  rate_limited: 429,
  system_error: 500,
  job_not_found: 404,
  invalid_request: 400,
  network_error: 502,
  file_not_found: 404,
  file_expired: 410,
  geo_blocked: 400,
  login_required: 400,
  platform_rate_limited: 503,
  download_timeout: 400,
  unauthorized: 401,
};

export interface AppErrorOptions {
  status?: number;
  /** Per-field reasons of a validation failure (SPEC §2 `errors`). */
  fields?: Record<string, string>;
  /** Extra keys merged into the body (e.g. `limit_type`, `reset_at` of a 429). */
  extra?: Record<string, unknown>;
  /** Response headers (e.g. `Retry-After`). */
  headers?: Record<string, string>;
  /** Placeholder values of the category's text. */
  vars?: TextVars;
  /** Internal detail for logs; never sent to clients. */
  detail?: string;
  cause?: unknown;
}

export class AppError extends Error {
  readonly category: ErrorCategory;
  readonly status: number;
  readonly fields?: Record<string, string>;
  readonly extra?: Record<string, unknown>;
  readonly headers?: Record<string, string>;
  readonly vars?: TextVars;
  readonly detail?: string;

  constructor(category: ErrorCategory, options: AppErrorOptions = {}) {
    super(options.detail ?? errorText(category).message, { cause: options.cause });
    this.name = 'AppError';
    this.category = category;
    this.status = options.status ?? DEFAULT_STATUS[category];
    this.fields = options.fields;
    this.extra = options.extra;
    this.headers = options.headers;
    this.vars = options.vars;
    this.detail = options.detail;
  }
}

export interface ErrorBody {
  error: string;
  title: string;
  message: string;
  action: string;
  errors?: Record<string, string>;
  [key: string]: unknown;
}

/** The SPEC §2 error body of an AppError. A 429 uses `"Rate limit exceeded"` as its `error`. */
export function errorBody(err: AppError): ErrorBody {
  const text = errorText(err.category, err.vars);
  const body: ErrorBody = {
    error: err.category === 'rate_limited' ? 'Rate limit exceeded' : err.category,
    ...text,
  };
  if (err.fields) body.errors = err.fields;
  if (err.extra) Object.assign(body, err.extra);
  return body;
}

/** `"<Title>: <message>"`, the job status `error` string of SPEC §2. */
export function jobErrorString(category: ErrorCategory): string {
  const text = errorText(category);
  return `${text.title}: ${text.message}`;
}
