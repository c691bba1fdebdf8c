// Sequential runs that learn (v3): files the agent keeps at the repository root, such as
// GRAVEYARD.md, go from each experiment into the next. Each experiment folder keeps them as
// received (`carry/in/`) and as left (`carry/out/`); they never count as the agent's changes.
import path from 'node:path';
import fs from 'fs-extra';
import { restorePaths } from '../../io/git.js';
import type { CarriedLines, CarryStatus } from '../workspace/manifest.js';

export const CARRY_IN = path.join('carry', 'in');
export const CARRY_OUT = path.join('carry', 'out');

async function lines(file: string): Promise<number | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  return text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/** Copies the carried files that `from` holds into the slot and into `carry/in/`. */
export async function placeCarry(slotDir: string, expDir: string, paths: string[], from?: string): Promise<CarryStatus> {
  const received: CarriedLines = {};
  for (const rel of paths) {
    const src = from && path.join(from, rel);
    const n = src ? await lines(src) : undefined;
    if (n === undefined) continue;
    await fs.copy(src!, path.join(slotDir, rel));
    await fs.copy(src!, path.join(expDir, CARRY_IN, rel));
    received[rel] = n;
  }
  return { from, received, left: {} };
}

/**
 * Keeps the carried files as the agent left them in `carry/out/`, then puts the slot's copies
 * back as they are at the base commit: they are not the agent's changes and not a test.
 */
export async function keepCarry(slotDir: string, expDir: string, baseCommit: string, paths: string[], status: CarryStatus): Promise<void> {
  for (const rel of paths) {
    const n = await lines(path.join(slotDir, rel));
    if (n === undefined) continue;
    await fs.copy(path.join(slotDir, rel), path.join(expDir, CARRY_OUT, rel));
    status.left[rel] = n;
  }
  await restorePaths(slotDir, baseCommit, paths);
}
