// The agents ptg has started and not yet seen end, by process group, and the markers their
// environments carry: a module with no dependencies, so the entry point can end them on any exit
// without loading execa.
import { killMarked } from './markers.js';

const liveGroups = new Set<number>();
const liveMarkers = new Set<string>();

/** `pgid` is undefined for an agent in ptg's own process group (a handoff's, in the terminal): its marker alone finds it. */
export function addAgent(pgid: number | undefined, marker: string): void {
  if (pgid) liveGroups.add(pgid);
  liveMarkers.add(marker);
}

export function deleteAgent(pgid: number | undefined, marker: string): void {
  if (pgid) liveGroups.delete(pgid);
  liveMarkers.delete(marker);
}

export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is already gone
  }
}

/** Last resort when ptg itself exits: no agent process outlives it. */
export function killAllAgents(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const pgid of liveGroups) killGroup(pgid, signal);
  for (const marker of liveMarkers) killMarked(marker, signal, true);
}

let watchdogRelease: (() => Promise<void>) | undefined;
let helperRelease: (() => Promise<void>) | undefined;

/** io/process/proc.ts registers how to let its watchdog go once the run's agents have all ended. */
export function onWatchdogRelease(release: () => Promise<void>): void {
  watchdogRelease = release;
}

/** io/process/spawner.ts registers how to end the process helper, which goes before the watchdog (it carries the run's marker). */
export function onHelperRelease(release: () => Promise<void>): void {
  helperRelease = release;
}

/**
 * On a clean end, when no agent is left: ends the process helper (io/process/spawner.ts), tells
 * the watchdog so and waits for both to exit, so that nothing of the run is running when ptg
 * returns. With agents still alive (an unclean end) it does nothing: ptg's exit closes both pipes
 * and the watchdog ends them.
 */
export async function releaseHelpers(): Promise<void> {
  if (liveGroups.size > 0 || liveMarkers.size > 0) return;
  await helperRelease?.();
  await watchdogRelease?.();
}
