/**
 * yt-dlp runs in a process group of its own so that a cancel can kill it with ffmpeg; the price is
 * that a worker killed with SIGKILL leaves that group running (Node has no parent-death signal).
 * A starting worker ends such orphans: processes re-parented away from a live worker whose command
 * line points into this DOWNLOAD_DIR's work root. Linux only (/proc); elsewhere it finds nothing.
 */
import { readdir, readFile } from 'node:fs/promises';

interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  cmdline: string;
}

async function readProc(pid: number): Promise<ProcInfo | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces; the fields after it are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return null;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ');
    return { pid, ppid: Number(fields[1]), pgid: Number(fields[2]), cmdline };
  } catch {
    return null;
  }
}

/**
 * Kills the process groups of downloads left behind by a dead worker of this `workRoot`, and
 * returns how many groups it ended. A group whose leader's parent is alive and not init is some
 * running worker's, and is left alone.
 */
export async function reapOrphanedDownloads(workRoot: string): Promise<number> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return 0;
  }
  const procs = (await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map((e) => readProc(Number(e))))).filter(
    (p): p is ProcInfo => p !== null,
  );
  const alive = new Set(procs.map((p) => p.pid));
  const groups = new Set<number>();
  for (const p of procs) {
    const leader = p.pid === p.pgid;
    const orphaned = p.ppid === 1 || !alive.has(p.ppid);
    if (leader && orphaned && p.pid !== process.pid && p.cmdline.includes(workRoot)) groups.add(p.pgid);
  }
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return groups.size;
}
