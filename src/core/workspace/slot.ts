import path from 'node:path';
import fs from 'fs-extra';
import { diffWorktree, forgetMoves, headCommit, keepInMirror, resetIfKnown, resetTo, worktreeAndCommitTrees, worktreeStatus } from '../../io/git.js';
import { paths, type SlotState } from './workspace.js';

export type SlotCondition =
  /** The work tree is the base commit's tree. */
  | 'clean'
  /** It holds exactly what the last experiment left, which that experiment's changes.patch has. */
  | 'saved'
  /** It holds work that no file of ptg's has. */
  | 'dirty';

export async function slotCondition(slot: SlotState): Promise<SlotCondition> {
  return conditionOf(await worktreeAndCommitTrees(slot.dir, slot.baseCommit), slot);
}

function conditionOf(trees: { worktree: string; commit: string }, slot: SlotState): SlotCondition {
  if (trees.worktree === trees.commit) return 'clean';
  if (trees.worktree === slot.lastExperiment?.tree) return 'saved';
  return 'dirty';
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '_');
}

/** ptg's own ignored paths in a slot: installed versions, the Python env, ptg 0.1's experiment folders. */
function isPtgOwn(entry: string): boolean {
  return entry === '.claude/' || entry.startsWith('.claude/') || entry === '.venv/' || /^[^/]*_experiment_[^/]*\/$/.test(entry);
}

/**
 * What an agent left in ignored paths (caches, logs, a venv of its own): every ignored entry that
 * neither setup left (`ignoredBaseline`) nor ptg owns. Unknown without a baseline (a slot set up
 * by ptg 0.1): then nothing.
 */
export async function agentLeftovers(slot: SlotState, ignored?: string[]): Promise<string[]> {
  if (!slot.ignoredBaseline) return [];
  const baseline = new Set(slot.ignoredBaseline);
  return (ignored ?? (await worktreeStatus(slot.dir)).ignored).filter((e) => !baseline.has(e) && !isPtgOwn(e));
}

/** The baseline of a slot as setup leaves it: what sits in its ignored paths but ptg's own, given (`ignored`, git status's list) or asked. */
export async function ignoredBaseline(dir: string, ignored?: string[]): Promise<string[]> {
  return (ignored ?? (await worktreeStatus(dir)).ignored).filter((e) => !isPtgOwn(e));
}

export interface ResetResult {
  /** Unsaved work found in the slot, saved here first. */
  savedPatch?: string;
  /** What an earlier agent left in ignored paths, now removed. */
  removed: string[];
}

/**
 * Brings a slot back to its base commit without losing anything: unsaved work becomes a patch
 * under `.ptg/saved/`, and a HEAD that moved is kept in the mirror under refs/ptg/kept/ (the slot
 * forgets it: the next agent there must not find it). Files an earlier agent
 * left in ignored paths (its experiment's status.json lists them) are removed.
 */
export async function resetSlot(ws: string, slot: SlotState): Promise<ResetResult> {
  const status = await worktreeStatus(slot.dir);
  const removed = await agentLeftovers(slot, status.ignored);
  for (const entry of removed) await fs.remove(path.join(slot.dir, entry));
  // The common case before an experiment: one git process, and nothing to save.
  if (status.head === slot.baseCommit && status.clean) return { removed };
  const head = status.head ?? (await headCommit(slot.dir));
  // A handoff's checkout of an earlier base is no commit of anyone's: only a HEAD moved otherwise is kept.
  const handedOff = head === slot.lastExperiment?.commit;
  const moved = head !== slot.baseCommit && !handedOff;
  if (moved) await keepInMirror(slot.dir, paths.mirror(ws), `${slot.slot}-${stamp()}`, head!);
  // The slot holds nothing that is not recorded (its base, or what its last record saw): the reset comes in the same shell.
  if (await resetIfKnown(slot.dir, slot.baseCommit, slot.lastExperiment?.tree ? [slot.lastExperiment.tree] : [])) {
    if (moved) await forgetMoves(slot.dir);
    return { removed };
  }
  const savedPatch = path.join(paths.saved(ws), `${slot.slot}-${stamp()}-${process.pid}.patch`);
  await fs.ensureDir(paths.saved(ws));
  // Against the commit the files sit on, so the patch applies where they were made.
  await diffWorktree(slot.dir, handedOff ? head : slot.baseCommit, savedPatch);
  await resetTo(slot.dir, slot.baseCommit);
  if (moved) await forgetMoves(slot.dir);
  return { savedPatch, removed };
}
