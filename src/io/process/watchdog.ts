// The run's watchdog: a small process of its own (its own session, so a closed terminal does not
// reach it) that holds a pipe from ptg. ptg can end in ways it cannot handle (kill -9, the OOM
// killer); the pipe then reads end-of-file, and the watchdog ends every agent's whole tree: the
// process groups ptg told it about and every process carrying the run's marker.
// Started by io/process/proc.ts as `node watchdog.js <marker prefix>`; reads `group <pgid>` and `ended
// <pgid>` lines, and `done` when ptg ends cleanly: every agent has ended, so the watchdog only makes
// sure that nothing marked is left and exits at once, and ptg, which waits for it, returns after.
import fs from 'node:fs';
import { killMarked } from './markers.js';
import { scratchPath } from './spawner.js';

const prefix = process.argv[2] ?? '';
const groups = new Set<number>();
let pending = '';
let done = false;

function killGroups(signal: NodeJS.Signals): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, signal);
    } catch {
      groups.delete(pgid);
    }
  }
}

async function reap(): Promise<void> {
  // SIGTERM first, as a timeout does; what is still there a moment later gets SIGKILL, until none is.
  killGroups('SIGTERM');
  killMarked(prefix, 'SIGTERM');
  for (let round = 0; round < 50; round++) {
    await new Promise((resolve) => setTimeout(resolve, round === 0 ? 300 : 100));
    killGroups('SIGKILL');
    if (killMarked(prefix, 'SIGKILL') === 0 && groups.size === 0) break;
  }
  // The process helper's job files, which ptg removes as it exits, unless it was killed.
  fs.rmSync(scratchPath(prefix), { recursive: true, force: true });
  process.exit(0);
}

async function finish(): Promise<void> {
  // What ptg killed as its agents ended may take a moment to be gone; nothing else is left to end.
  for (let round = 0; round < 500 && killMarked(prefix, 'SIGKILL') > 0; round++) await new Promise((resolve) => setTimeout(resolve, 10));
  process.exit(0);
}

const end = () => void (done && groups.size === 0 ? finish() : reap());

process.on('SIGHUP', () => {});
process.on('SIGINT', () => {});
process.stdin.on('data', (chunk: Buffer) => {
  const lines = (pending + chunk.toString()).split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) {
    const [verb, arg] = line.split(' ');
    if (verb === 'group' && Number(arg) > 0) groups.add(Number(arg));
    if (verb === 'ended' && Number(arg) > 0) groups.delete(Number(arg));
    if (verb === 'done') done = true;
  }
});
process.stdin.on('end', end);
process.stdin.on('error', end);
