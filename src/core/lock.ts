import path from 'node:path';
import fs from 'fs-extra';
import { UsageError } from '../errors.js';
import { paths } from './workspace.js';

interface LockInfo {
  pid: number;
  version: string;
  runId: string;
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
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
