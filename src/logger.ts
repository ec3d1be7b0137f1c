import { pino, type Logger } from 'pino';

/** Keys whose values never reach a log line (SPEC §10: secrets and cookies never appear in logs). */
const REDACT = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
  'token',
  '*.token',
  'password',
  '*.password',
  'apiKey',
  'cookiesFile',
];

export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } });
}
