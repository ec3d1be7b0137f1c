import { readFileSync } from 'node:fs';

let cached: string | null = null;

/** The version in package.json, found from this module whether it runs from `src/` or `dist/src/`. */
export function packageVersion(): string {
  if (cached) return cached;
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ultra-dl' && pkg.version) return (cached = pkg.version);
    } catch {
      // Not at this depth; try the next.
    }
  }
  return (cached = '0.0.0');
}
