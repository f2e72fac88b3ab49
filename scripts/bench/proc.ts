// What the benchmark reads about processes from /proc (Linux): resident memory and CPU time, per process tree.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every Linux build we run on). */
const ticksPerSecond = 100;

/** VmRSS of one process, in bytes; null once it has gone. */
export function rssBytes(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime of the process (all its threads), in seconds. */
  own: number;
  /** cutime + cstime: children it has waited for (postgres backends that have exited, say). */
  reaped: number;
}

function readStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(fields[i]);
    return { pid, ppid: n(1), own: (n(11) + n(12)) / ticksPerSecond, reaped: (n(13) + n(14)) / ticksPerSecond };
  } catch {
    return null;
  }
}

function allStats(): ProcStat[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readStat(Number(name)))
    .filter((stat): stat is ProcStat => stat !== null);
}

/** CPU seconds used so far by each named process and its descendants (a postmaster and its backends, say). */
export function treeCpuSeconds(roots: Record<string, number | undefined>): Record<string, number> {
  const stats = allStats();
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const byPid = new Map(stats.map((stat) => [stat.pid, stat]));
  // A root's descendants that are roots themselves (the worker is this script's child) count for themselves only.
  const rootPids = new Set(Object.values(roots));
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(roots)) {
    const root = pid === undefined ? undefined : byPid.get(pid);
    if (!root) continue;
    // Exited children's time (postgres backends) counts, unless the root parents other roots (this script).
    const parentsRoots = (children.get(root.pid) ?? []).some((child) => rootPids.has(child.pid));
    let total = parentsRoots ? 0 : root.reaped;
    const queue = [root];
    while (queue.length) {
      const next = queue.pop() as ProcStat;
      total += next.own;
      queue.push(...(children.get(next.pid) ?? []).filter((child) => !rootPids.has(child.pid)));
    }
    out[name] = total;
  }
  return out;
}

/** Busy and total CPU seconds of the whole machine since boot (all cores), from /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.slice(0, 8).reduce((sum, value) => sum + value, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: (total - idle) / ticksPerSecond, total: total / ticksPerSecond };
}

export function loadAverage(): [number, number, number] {
  const [one, five, fifteen] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
  return [one ?? 0, five ?? 0, fifteen ?? 0];
}

export function machine() {
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  return {
    cores: availableParallelism(),
    cpuModel: model,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

export interface CpuWindow {
  wallSeconds: number;
  /** Share of one core per process tree over the window (200% = both cores of a 2-core machine). */
  percentOfCore: Record<string, number>;
  /** Everything on the machine, ours and anyone else's, as a share of one core. */
  machinePercentOfCore: number;
  /** What the machine used beyond the processes named (other users of the machine, the kernel). */
  otherPercentOfCore: number;
}

/** Starts a CPU window over the named process trees; call the returned function to close it. */
export function cpuWindow(roots: () => Record<string, number | undefined>): () => CpuWindow {
  const startedAt = performance.now();
  const before = treeCpuSeconds(roots());
  const machineBefore = machineCpuSeconds();
  return () => {
    const wallSeconds = (performance.now() - startedAt) / 1000;
    const after = treeCpuSeconds(roots());
    const machineAfter = machineCpuSeconds();
    const percentOfCore: Record<string, number> = {};
    for (const [name, seconds] of Object.entries(after)) {
      percentOfCore[name] = Math.round(((seconds - (before[name] ?? 0)) / wallSeconds) * 100);
    }
    const machinePercentOfCore = Math.round(((machineAfter.busy - machineBefore.busy) / wallSeconds) * 100);
    const ours = Object.values(percentOfCore).reduce((sum, value) => sum + value, 0);
    return {
      wallSeconds: Math.round(wallSeconds * 10) / 10,
      percentOfCore,
      machinePercentOfCore,
      otherPercentOfCore: Math.max(0, machinePercentOfCore - ours),
    };
  };
}
