import { readdir, readFile } from 'node:fs/promises';

/** Pids of live processes whose command line contains `needle` (read from /proc). */
export async function processesMatching(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replace(/\0/g, ' ');
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // A zombie has exited already; only its parent's bookkeeping is left.
      if (/\) Z /.test(stat)) continue;
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return pids;
}
