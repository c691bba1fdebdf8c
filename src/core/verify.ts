// `ptg verify`: the checks again on a finished run, with no agent. Each experiment's recorded
// changes go back into its slot (base commit, then changes.patch), the checks run there, and
// their results join status.json beside the run's own; the slot ends clean at its base.
import path from 'node:path';
import fs from 'fs-extra';
import pLimit from 'p-limit';
import { PtgError } from '../errors.js';
import { writeFileAtomic } from '../io/files.js';
import { applyPatch, gitReason, resetTo } from '../io/git.js';
import { type CheckResults, latestChecks, passedOf } from './check-results.js';
import { CHECKS_DIR, type CheckSpec, defaultCheckConcurrency, runChecks } from './checks.js';
import type { Secret } from '../io/mask.js';
import { maskFolder } from './experiment.js';
import { EXPERIMENT_FILES } from './experiment-folder.js';
import { isAlive, lockSlots } from './lock.js';
import { type ManifestExperiment, readStatus, type RunManifest, statusFile, writeManifest } from './manifest.js';
import { resetSlot } from './slot.js';
import { readSlot } from './workspace.js';

export interface VerifyRequest {
  workspace: string;
  manifest: RunManifest;
  checks: CheckSpec[];
  env: NodeJS.ProcessEnv;
  /** Masked as `***NAME***` in the checks' output, as a run masks them. */
  secrets: Secret[];
  stps?: string[];
  checkConcurrency?: number;
  ptgVersion: string;
  signal: AbortSignal;
}

export interface VerifiedExperiment {
  stp: string;
  repeat?: number;
  model?: string;
  /** What stood before (the run's own or an earlier verification's) and what the checks say now. */
  before: CheckResults;
  after?: CheckResults;
  /** Unsaved work found in the slot first, saved here. */
  savedPatch?: string;
  /** Why this experiment was not verified. */
  skipped?: string;
}

export async function verifyRun(req: VerifyRequest): Promise<VerifiedExperiment[]> {
  const { manifest } = req;
  if (manifest.state === 'running' && isAlive(manifest.pid)) {
    throw new PtgError(`Run ${manifest.runId} of ${manifest.version} is still running (pid ${manifest.pid}): verify it once it has finished.`);
  }
  const chosen = manifest.experiments.filter((e) => !req.stps || req.stps.includes(e.stp));
  if (chosen.length === 0) throw new PtgError(`Run ${manifest.runId} of ${manifest.version} has no experiment of STP ${req.stps!.join(', ')}.`);
  const release = await lockSlots(req.workspace, chosen.map((e) => e.slot), { command: 'verify', version: manifest.version, runId: manifest.runId });
  const limit = pLimit(req.checkConcurrency ?? defaultCheckConcurrency());
  const bySlot = new Map<string, ManifestExperiment[]>();
  for (const e of chosen) bySlot.set(e.slot, [...(bySlot.get(e.slot) ?? []), e]);
  const results = new Map<ManifestExperiment, VerifiedExperiment>();
  try {
    // Slots side by side, each one's experiments in turn; the checks share one limit.
    await Promise.all([...bySlot.values()].map(async (list) => {
      for (const e of list) results.set(e, await verifyOne(e, req, limit));
    }));
  } finally {
    await writeManifest(req.workspace, manifest).catch(() => undefined);
    await release();
  }
  return chosen.map((e) => results.get(e) ?? { stp: e.stp, repeat: e.repeat, model: e.model, before: {}, skipped: 'interrupted' });
}

async function verifyOne(e: ManifestExperiment, req: VerifyRequest, limit: <T>(fn: () => Promise<T>) => Promise<T>): Promise<VerifiedExperiment> {
  const status = await readStatus(e.dir);
  const result: VerifiedExperiment = { stp: e.stp, repeat: e.repeat, model: e.model, before: status ? latestChecks(status).checks : {} };
  const patch = path.join(e.dir, EXPERIMENT_FILES.patch);
  if (!status || !(await fs.pathExists(patch))) return { ...result, skipped: `no recorded changes (${status?.state ?? 'no status.json'})` };
  if (req.signal.aborted) return { ...result, skipped: 'interrupted' };
  const slot = await readSlot(req.workspace, e.slot);
  if (!slot || !(await fs.pathExists(slot.dir))) return { ...result, skipped: `slot ${e.slot} is not there: run \`ptg setup\`` };

  const reset = await resetSlot(req.workspace, slot);
  result.savedPatch = reset.savedPatch;
  let checks: CheckResults;
  const n = (status.verifications?.length ?? 0) + 1;
  const dir = path.join(CHECKS_DIR, `verify-${n}`);
  try {
    try {
      if (status.baseCommit !== slot.baseCommit) await resetTo(slot.dir, status.baseCommit);
    } catch {
      return { ...result, skipped: `its base commit ${status.baseCommit.slice(0, 12)} is not in slot ${e.slot} any more` };
    }
    try {
      await applyPatch(slot.dir, patch);
    } catch (error) {
      return { ...result, skipped: `its changes.patch does not apply: ${gitReason(error)}` };
    }
    const present = (status.changedFiles ?? []).filter((f) => f.status !== 'D').map((f) => f.path);
    checks = await runChecks(
      req.checks,
      { slotDir: slot.dir, pythonFiles: present.filter((p) => p.endsWith('.py')), testFiles: status.testFiles ?? [], python: slot.python.python, env: req.env, outDir: path.join(e.dir, dir), signal: req.signal },
      limit,
    );
  } finally {
    // Clean at its base again, as setup left it: the next run starts from there.
    await resetTo(slot.dir, slot.baseCommit);
  }
  await maskFolder(path.join(e.dir, dir), req.secrets);
  if (req.signal.aborted) return { ...result, skipped: 'interrupted' };
  // Beside the run's own results, never over them.
  status.verifications = [...(status.verifications ?? []), { at: new Date().toISOString(), ptgVersion: req.ptgVersion, dir, checks }];
  await writeFileAtomic(statusFile(e.dir), `${JSON.stringify(status, null, 2)}\n`);
  e.checks = passedOf(latestChecks(status).checks);
  return { ...result, after: checks };
}
