import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fs from 'fs-extra';
import { UsageError } from '../errors.js';
import { readManifest } from './manifest.js';
import { paths } from './workspace.js';

interface LockInfo {
  pid: number;
  version: string;
  runId: string;
}

async function orphanAgent(ws: string, holder: LockInfo, slot: string): Promise<number | undefined> {
  const manifest = await readManifest(ws, holder.version, holder.runId).catch(() => undefined);
  return manifest?.experiments.find((e) => e.slot === slot && e.state === 'running' && isAlive(e.pid))?.pid;
}

/** A process that exists and is not a zombie (on Linux, an exited child not yet reaped still answers kill -0). */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return !existsSync('/proc/self'); // gone since kill -0; or no /proc (macOS), where kill -0 is all there is
  }
}

/**
 * Takes the slots for this process, so two runs never share a checkout (one would reset the
 * other's files away). A lock whose process is gone is taken over. Returns the release function.
 */
export async function lockSlots(ws: string, slots: string[], info: Omit<LockInfo, 'pid'>): Promise<() => Promise<void>> {
  const dir = paths.locks(ws);
  await fs.ensureDir(dir);
  const taken: string[] = [];
  const release = async () => {
    for (const file of taken.splice(0)) await fs.remove(file);
  };
  try {
    for (const slot of slots) {
      const file = path.join(dir, `${slot}.lock`);
      const mine = JSON.stringify({ pid: process.pid, ...info });
      for (;;) {
        try {
          await fs.writeFile(file, mine, { flag: 'wx' });
          taken.push(file);
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
          const holder = (await fs.readJson(file).catch(() => undefined)) as LockInfo | undefined;
          if (holder && isAlive(holder.pid)) {
            throw new UsageError(`Slot ${slot} is in use by run ${holder.version} ${holder.runId} (pid ${holder.pid}): wait for it to end, or choose other STPs with --stp.`);
          }
          // ptg died without ending its agents (kill -9): one may still be writing in the slot.
          const orphan = holder && (await orphanAgent(ws, holder, slot));
          if (orphan) {
            throw new UsageError(
              `An agent of run ${holder!.version} ${holder!.runId} (pid ${orphan}) still runs in slot ${slot} without ptg: end it with \`kill -- -${orphan}\`, then run again.`,
            );
          }
          await fs.remove(file);
        }
      }
    }
  } catch (error) {
    await release();
    throw error;
  }
  return release;
}
