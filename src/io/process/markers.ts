// Every agent ptg starts carries `PTG_MARKER=<run token>/<n>` in its environment, and so does
// everything it starts, even a process that left the agent's group (`setsid`, a daemon): the
// environment is inherited where the process group is not. Linux shows each process's
// environment under /proc; elsewhere the process group is all there is.
import { readdirSync, readFileSync } from 'node:fs';

export const MARKER_VAR = 'PTG_MARKER';

/**
 * This ptg's marker: every agent it starts gets `PTG_MARKER=<token>/<n>`, and so does all that
 * the agent starts. The token names the ptg process (its pid, and a random part against a reused
 * pid: Math.random, since every command loads this module and node:crypto costs its start-up), so
 * one prefix covers all of its agents.
 */
export const MARKER_PREFIX = `${process.pid}-${Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, '0')}/`;

/**
 * Pids of the live processes whose environment has `PTG_MARKER=<prefix>…` (a run's agents), or
 * exactly `PTG_MARKER=<prefix>` with `exact` (one agent: `<token>/1` is not `<token>/10`); none
 * without /proc.
 */
export function markedPids(prefix: string, exact = false): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  // Each entry of /proc/<pid>/environ ends with a NUL, the last one too.
  const entry = `${MARKER_VAR}=${prefix}${exact ? '\0' : ''}`;
  const wanted = Buffer.from(`\0${entry}`);
  const first = Buffer.from(entry);
  const pids: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      // A zombie's environment reads empty: it is gone already, only not yet reaped.
      const env = readFileSync(`/proc/${name}/environ`);
      if (env.subarray(0, first.length).equals(first) || env.includes(wanted)) pids.push(Number(name));
    } catch {
      // ended meanwhile, or not ours to read
    }
  }
  return pids;
}

/** Sends `signal` to every marked process (see markedPids); returns how many there were. */
export function killMarked(prefix: string, signal: NodeJS.Signals, exact = false): number {
  const pids = markedPids(prefix, exact);
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
  return pids.length;
}
