import path from 'node:path';
import fs from 'fs-extra';
import { PtgError, UsageError } from '../../errors.js';
import { isAlive, lockSlots } from '../workspace/lock.js';
import { listRuns } from '../workspace/manifest.js';
import { slotCondition } from '../workspace/slot.js';
import { paths, type SlotState } from '../workspace/workspace.js';

export interface CleanRequest {
  workspace: string;
  experiments?: boolean;
  results?: boolean;
  slots?: boolean;
  /** Only this version's experiment folders, results and runs. */
  version?: string;
  /** The versions the root knows: with the workspace's runs, they tell results of v2 from those of v2_1. */
  versions?: string[];
  force?: boolean;
}

export interface CleanPlan {
  remove: string[];
  /** Slots with work no patch of ptg's holds: removed only with force. */
  dirty: string[];
}

async function slotStates(ws: string): Promise<SlotState[]> {
  const dir = path.join(paths.state(ws), 'slots');
  const names = ((await fs.readdir(dir).catch(() => [])) as string[]).filter((n) => n.endsWith('.json'));
  return Promise.all(names.map((n) => fs.readJson(path.join(dir, n)) as Promise<SlotState>));
}

/**
 * Whether results folder `name` holds a run of `version`: its summary.json says which; a folder
 * without one goes by its name, `results_<version>_<run-id>`, unless a longer known version fits
 * too (`results_v2_1_x` is v2_1's when there is a v2_1, else a v2 run with id 1_x).
 */
async function isResultsOf(ws: string, name: string, version: string, known: string[]): Promise<boolean> {
  const summary = (await fs.readJson(path.join(ws, name, 'summary.json')).catch(() => undefined)) as { version?: unknown } | undefined;
  if (typeof summary?.version === 'string') return summary.version === version;
  const fits = (v: string) => name.startsWith(`results_${v}_`);
  return fits(version) && !known.some((other) => other.length > version.length && fits(other));
}

/** What `ptg clean` would remove; refuses while a run is going on. */
export async function planClean(req: CleanRequest): Promise<CleanPlan> {
  const ws = req.workspace;
  const runs = await listRuns(ws);
  const live = runs.filter((r) => r.state === 'running' && isAlive(r.pid));
  if (live.length) throw new UsageError(`Run ${live[0]!.version} ${live[0]!.runId} is going on (pid ${live[0]!.pid}): clean after it ends.`);
  const slots = await slotStates(ws);
  const plan: CleanPlan = { remove: [], dirty: [] };
  const prefix = req.version ? `${req.version}_experiment_` : '';
  if (req.experiments && !req.slots) {
    const records = paths.experiments(ws);
    for (const name of (await fs.readdir(records).catch(() => [])) as string[]) {
      if (name.includes('_experiment_') && name.startsWith(prefix)) plan.remove.push(path.join(records, name));
    }
    // ptg 0.1 kept experiment folders inside the slots.
    for (const slot of slots) {
      for (const name of (await fs.readdir(slot.dir).catch(() => [])) as string[]) {
        if (name.includes('_experiment_') && name.startsWith(prefix)) plan.remove.push(path.join(slot.dir, name));
      }
    }
    plan.remove.push(...(req.version ? [path.join(paths.runs(ws), req.version)] : [paths.runs(ws)]));
  }
  if (req.results) {
    const known = [...new Set([...(req.versions ?? []), ...runs.map((r) => r.version)])];
    for (const name of (await fs.readdir(ws).catch(() => [])) as string[]) {
      const ours = req.version ? name.startsWith('results_') && (await isResultsOf(ws, name, req.version, known)) : /^(results|comparison)_/.test(name);
      if (ours) plan.remove.push(path.join(ws, name));
    }
  }
  if (req.slots) {
    for (const slot of slots) {
      if ((await fs.pathExists(slot.dir)) && (await slotCondition(slot).catch(() => 'dirty' as const)) === 'dirty') plan.dirty.push(slot.dir);
      plan.remove.push(slot.dir, paths.slotFile(ws, slot.slot));
    }
    plan.remove.push(paths.runs(ws), paths.experiments(ws), path.join(paths.state(ws), 'parked'), paths.workspaceFile(ws));
  }
  return plan;
}

/**
 * Cleans as asked, holding the locks of the slots it touches (all of them for experiments or
 * slots): no run starts in a slot being emptied, and a run that holds one refuses the clean.
 */
export async function clean(req: CleanRequest): Promise<string[]> {
  const slots = req.experiments || req.slots ? (await slotStates(req.workspace)).map((s) => s.slot) : [];
  const release = await lockSlots(req.workspace, slots, { command: 'clean' });
  try {
    return await applyClean(await planClean(req), Boolean(req.force));
  } finally {
    await release();
  }
}

/** Removes what the plan names; uncommitted work only with force, and then nothing is asked. */
export async function applyClean(plan: CleanPlan, force: boolean): Promise<string[]> {
  if (plan.dirty.length && !force) {
    throw new PtgError(`${plan.dirty.length} slot(s) hold uncommitted work no patch has (${plan.dirty.map((d) => path.basename(d)).join(', ')}): commit or save it, or pass --force. Nothing was removed.`);
  }
  const removed: string[] = [];
  for (const p of [...new Set(plan.remove)]) {
    if (await fs.pathExists(p)) {
      await fs.remove(p);
      removed.push(p);
    }
  }
  return removed;
}
