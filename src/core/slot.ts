import path from 'node:path';
import fs from 'fs-extra';
import { diffWorktree, headCommit, isPristine, keepRef, resetTo, treeOf, worktreeTree } from '../io/git.js';
import { paths, type SlotState } from './workspace.js';

export type SlotCondition =
  /** The work tree is the base commit's tree. */
  | 'clean'
  /** It holds exactly what the last experiment left, which that experiment's changes.patch has. */
  | 'saved'
  /** It holds work that no file of ptg's has. */
  | 'dirty';

export async function slotCondition(slot: SlotState): Promise<SlotCondition> {
  const tree = await worktreeTree(slot.dir);
  if (tree === (await treeOf(slot.dir, slot.baseCommit))) return 'clean';
  if (tree === slot.lastExperiment?.tree) return 'saved';
  return 'dirty';
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '_');
}

/**
 * Brings a slot back to its base commit without losing anything: unsaved work becomes a patch
 * under `.ptg/saved/`, and a HEAD that moved is kept under refs/ptg/kept/. Returns the saved patch.
 */
export async function resetSlot(ws: string, slot: SlotState): Promise<string | undefined> {
  if (await isPristine(slot.dir, slot.baseCommit)) return undefined;
  let savedPatch: string | undefined;
  const head = await headCommit(slot.dir);
  if (head !== slot.baseCommit) await keepRef(slot.dir, stamp(), head);
  if ((await slotCondition(slot)) === 'dirty') {
    savedPatch = path.join(paths.saved(ws), `${slot.slot}-${stamp()}-${process.pid}.patch`);
    await fs.ensureDir(paths.saved(ws));
    await diffWorktree(slot.dir, slot.baseCommit, savedPatch);
  }
  await resetTo(slot.dir, slot.baseCommit);
  return savedPatch;
}
