// `ptg verify`: the checks again on a finished run, with no agent. Each experiment's recorded
// changes (base commit, then changes.patch) go into a throwaway checkout of the workspace's
// mirror, the checks run there, and their results join status.json beside the run's own. Slots
// are never touched, so a run may go on in them meanwhile, and a run from another workspace
// (its `ptg pack` unpacked here) is verified as well as one of this workspace.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import fs from 'fs-extra';
import pLimit from 'p-limit';
import { PtgError } from '../../errors.js';
import { writeFileAtomic } from '../../io/files.js';
import { applyPatch, fetchCommitIntoMirror, gitReason, hasCommit, throwawayCheckout } from '../../io/git.js';
import { type CheckResults, latestChecks, passedOf } from '../workspace/check-results.js';
import { CHECKS_DIR, type CheckSpec, defaultCheckConcurrency, runChecks } from './checks.js';
import { type Sandbox, slotView } from '../agent/sandbox.js';
import type { Secret } from '../../io/mask.js';
import { maskFolder } from '../workspace/masking.js';
import { EXPERIMENT_FILES } from '../workspace/experiment-folder.js';
import { isAlive, lockRun } from '../workspace/lock.js';
import { experimentFolder, type ManifestExperiment, readStatus, type RunManifest, statusFile, writeManifest } from '../workspace/manifest.js';
import { paths, readSlot } from '../workspace/workspace.js';

export interface VerifyRequest {
  workspace: string;
  manifest: RunManifest;
  checks: CheckSpec[];
  env: NodeJS.ProcessEnv;
  /** Masked as `***NAME***` in the checks' output, as a run masks them. */
  secrets: Secret[];
  stps?: string[];
  /** Experiments verified at once, each in its own checkout (default: one per core). */
  checkConcurrency?: number;
  /** Where the checks run: in a view of their checkout, as a run's checks in their slot's. */
  sandbox?: Sandbox;
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
  /** Why this experiment was not verified. */
  skipped?: string;
}

/** Where one verify makes its checkouts, and whether each base commit is in the mirror. */
interface Scratch {
  mirror: string;
  dir: string;
  made: number;
  /** Per base commit: undefined when the mirror has it (fetched if need be), else why not. */
  bases: Map<string, Promise<string | undefined>>;
  /** One fetch into the mirror at a time: two would race for its refs. */
  fetching: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** Runs the checks on each chosen experiment's recorded changes, in checkouts of its own; adds the results to its status.json. */
export async function verifyRun(req: VerifyRequest): Promise<VerifiedExperiment[]> {
  const { manifest } = req;
  if (manifest.state === 'running' && isAlive(manifest.pid)) {
    throw new PtgError(`Run ${manifest.runId} of ${manifest.version} is still running (pid ${manifest.pid}): verify it once it has finished.`);
  }
  const chosen = manifest.experiments.filter((e) => !req.stps || req.stps.includes(e.stp));
  if (chosen.length === 0) throw new PtgError(`Run ${manifest.runId} of ${manifest.version} has no experiment of STP ${req.stps!.join(', ')}.`);
  const release = await lockRun(req.workspace, { command: 'verify', version: manifest.version, runId: manifest.runId });
  // Each experiment holds a checkout while its checks run one after another: at most this many checkouts, and checks, at once.
  const limit = pLimit(req.checkConcurrency ?? defaultCheckConcurrency());
  const results = new Map<ManifestExperiment, VerifiedExperiment>();
  let scratch: Scratch | undefined;
  try {
    scratch = await makeScratch(req.workspace);
    await Promise.all(chosen.map((e) => limit(async () => results.set(e, await verifyOne(e, req, scratch!)))));
  } finally {
    if (scratch) await fs.remove(scratch.dir).catch(() => undefined);
    await writeManifest(req.workspace, manifest).catch(() => undefined);
    await release();
  }
  return chosen.map((e) => results.get(e) ?? { stp: e.stp, repeat: e.repeat, model: e.model, before: {}, skipped: 'interrupted' });
}

/** This verify's folder of checkouts; first removes those a verify killed outright left behind. */
async function makeScratch(ws: string): Promise<Scratch> {
  const root = paths.checkouts(ws);
  for (const name of (await fs.readdir(root).catch(() => [])) as string[]) {
    if (!isAlive(Number(name.split('-')[0]))) await fs.remove(path.join(root, name));
  }
  const dir = path.join(root, `${process.pid}-${randomBytes(4).toString('hex')}`);
  await fs.ensureDir(dir);
  return { mirror: paths.mirror(ws), dir, made: 0, bases: new Map(), fetching: pLimit(1) };
}

/** Whether the mirror has `commit`, fetched from the upstream when it has not: undefined, else why not. Each commit asked about once. */
function baseReady(scratch: Scratch, commit: string): Promise<string | undefined> {
  let ready = scratch.bases.get(commit);
  if (!ready) scratch.bases.set(commit, (ready = scratch.fetching(() => fetchBase(scratch.mirror, commit))));
  return ready;
}

async function fetchBase(mirror: string, commit: string): Promise<string | undefined> {
  // A pack from elsewhere is data, not a command line: an "id" like `--upload-pack=…` never reaches git.
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit)) return `its base commit "${commit}" in status.json is no commit id`;
  if (!(await fs.pathExists(path.join(mirror, 'HEAD')))) return `this workspace has no mirror of the target (${mirror}): run \`ptg setup\``;
  if (await hasCommit(mirror, commit)) return undefined;
  const short = commit.slice(0, 12);
  try {
    await fetchCommitIntoMirror(mirror, commit);
  } catch (error) {
    return `its base commit ${short} is not in this workspace's mirror, and fetching it failed: ${gitReason(error)}`;
  }
  return (await hasCommit(mirror, commit)) ? undefined : `its base commit ${short} is neither in this workspace's mirror nor upstream`;
}

/** The slot's .venv interpreter when the slot is here (the checks' imports resolve as in the run); else none: python3 on PATH. */
async function slotPython(ws: string, slot: string): Promise<{ python?: string; venv?: string }> {
  const state = await readSlot(ws, slot);
  const python = state?.python.python;
  if (!state || !python || !(await fs.pathExists(python))) return {};
  const venv = path.join(state.dir, '.venv');
  return { python, venv: (await fs.pathExists(venv)) ? venv : undefined };
}

async function verifyOne(e: ManifestExperiment, req: VerifyRequest, scratch: Scratch): Promise<VerifiedExperiment> {
  // A run unpacked from another workspace names that one's folders: this workspace's copy is the one to add to.
  const folder = await experimentFolder(req.workspace, e);
  const status = await readStatus(folder);
  const result: VerifiedExperiment = { stp: e.stp, repeat: e.repeat, model: e.model, before: status ? latestChecks(status).checks : {} };
  // A Ctrl-C reaches git too, whose failure is then no reason of the experiment's.
  const skip = (why: string): VerifiedExperiment => ({ ...result, skipped: req.signal.aborted ? 'interrupted' : why });
  const patch = path.join(folder, EXPERIMENT_FILES.patch);
  // No status.json is no record at all (a pack unpacked elsewhere than the workspace, say), not an experiment that recorded nothing.
  if (!status) return { ...result, skipped: `no status.json in ${folder}` };
  if (!(await fs.pathExists(patch))) return { ...result, skipped: `no recorded changes (${status.state})` };
  if (req.signal.aborted) return skip('interrupted');
  const unavailable = await baseReady(scratch, status.baseCommit);
  if (unavailable) return skip(unavailable);

  const checkout = path.join(scratch.dir, String((scratch.made += 1)));
  const dir = path.join(CHECKS_DIR, `verify-${(status.verifications?.length ?? 0) + 1}`);
  const outDir = path.join(folder, dir);
  let checks: CheckResults;
  try {
    try {
      await throwawayCheckout(scratch.mirror, checkout, status.baseCommit);
    } catch (error) {
      return skip(`its base commit ${status.baseCommit.slice(0, 12)} could not be checked out: ${gitReason(error)}`);
    }
    try {
      await applyPatch(checkout, patch);
    } catch (error) {
      return skip(`its changes.patch does not apply: ${gitReason(error)}`);
    }
    const { python, venv } = await slotPython(req.workspace, status.slot);
    // Where the run's checks found `.venv/` (a check of the user's may name `.venv/bin/ruff`).
    const link = path.join(checkout, '.venv');
    if (venv && !(await fs.pathExists(link))) await fs.symlink(venv, link);
    const present = (status.changedFiles ?? []).filter((f) => f.status !== 'D').map((f) => f.path);
    // What a verify killed outright left under this number is no result.
    await fs.remove(outDir);
    // The checkout's objects are the mirror's (a shared clone): shown with the slot's .venv, read-only.
    const view = req.sandbox && (await slotView(req.sandbox, { slotDir: checkout, python, readOnly: [scratch.mirror, ...(venv ? [venv] : [])] }));
    checks = await runChecks(req.checks, { wrap: view?.wrap, slotDir: checkout, pythonFiles: present.filter((p) => p.endsWith('.py')), testFiles: status.testFiles ?? [], python, env: req.env, outDir, signal: req.signal }).finally(() => view?.cleanup());
  } finally {
    // Removal follows no link: the slot's .venv stays.
    await fs.remove(checkout);
  }
  if (req.signal.aborted) {
    await fs.remove(outDir);
    return skip('interrupted');
  }
  await maskFolder(outDir, req.secrets);
  // Beside the run's own results, never over them.
  status.verifications = [...(status.verifications ?? []), { at: new Date().toISOString(), ptgVersion: req.ptgVersion, dir, checks, sandbox: req.sandbox?.record }];
  await writeFileAtomic(statusFile(folder), `${JSON.stringify(status, null, 2)}\n`);
  e.checks = passedOf(latestChecks(status).checks);
  return { ...result, after: checks };
}
