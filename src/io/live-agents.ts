// The agents ptg has started and not yet seen end, by process group: a module with no
// dependencies, so the entry point can end them on any exit without loading execa.

const liveGroups = new Set<number>();

export function addGroup(pgid: number): void {
  liveGroups.add(pgid);
}

export function deleteGroup(pgid: number): void {
  liveGroups.delete(pgid);
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
}
