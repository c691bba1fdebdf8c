// One version in a slot while it runs. Setup installs every version into every slot's .claude/
// (users open a slot and run a version by hand), but Claude Code offers the model every skill
// and command it finds there: a v2.1 agent could invoke v2.2's skills. So for the length of an
// experiment the other versions' installed files wait outside the slot, in .ptg/parked/<slot>/.
import path from 'node:path';
import fs from 'fs-extra';
import { paths, type SlotState } from './workspace.js';

/**
 * Moves the files ptg installed for every version but `version` out of the slot. A parked
 * folder left by a ptg that died half-way is put back first. Returns the files moved.
 */
export async function parkOtherVersions(ws: string, slot: SlotState, version: string): Promise<string[]> {
  await restoreParked(ws, slot);
  const keep = new Set(slot.versions.filter((v) => v.version === version).flatMap((v) => v.files));
  const park = slot.versions.filter((v) => v.version !== version).flatMap((v) => v.files).filter((f) => !keep.has(f));
  const parked = paths.parked(ws, slot.slot);
  const moved: string[] = [];
  for (const rel of park) {
    const from = path.join(slot.dir, rel);
    if (!(await fs.pathExists(from))) continue;
    await fs.move(from, path.join(parked, rel), { overwrite: true });
    moved.push(rel);
  }
  for (const rel of moved) await removeEmptyParents(slot.dir, path.posix.dirname(rel));
  return moved;
}

/** Puts parked files back into the slot, over whatever took their place; safe to call twice. */
export async function restoreParked(ws: string, slot: Pick<SlotState, 'slot' | 'dir'>): Promise<void> {
  const parked = paths.parked(ws, slot.slot);
  if (!(await fs.pathExists(parked))) return;
  for (const rel of await listFiles(parked)) {
    await fs.move(path.join(parked, rel), path.join(slot.dir, rel), { overwrite: true });
  }
  await fs.remove(parked);
}

/** Removes `rel` and its parents while they are empty, up to `.claude` (kept). */
export async function removeEmptyParents(slotDir: string, rel: string): Promise<void> {
  for (let dir = rel; dir !== '.' && dir !== '.claude' && dir !== ''; dir = path.posix.dirname(dir)) {
    const abs = path.join(slotDir, dir);
    if (!(await fs.pathExists(abs)) || (await fs.readdir(abs)).length > 0) return;
    await fs.rmdir(abs);
  }
}

/** Every file under `dir`, as `/`-separated paths relative to it, sorted. */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await fs.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(path.join(dir, entry.name), rel)));
    else out.push(rel);
  }
  return out;
}
