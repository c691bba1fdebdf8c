// core/setup/ — imports from core/root, core/workspace, core/agent (and io/); imported by core/checks, core/run, core/reports, render/, commands/. The order of core's folders: docs/architecture.md.
import os from 'node:os';
import path from 'node:path';
import fs from 'fs-extra';
import pLimit from 'p-limit';
import { cloneSlot, ensureExcluded, fetchFromMirror, gitReason, headCommit, type History, isCheckout, isShallow, keepInMirror, pastBase, resetTo, trimSlot, updateMirror, worktreeStatus } from '../../io/git.js';
import { applyInstall, planVersionInstall } from './install.js';
import { lockSlots } from '../workspace/lock.js';
import type { Stp, Version } from '../root/root.js';
import { restoreParked } from '../workspace/park.js';
import { agentLeftovers, ignoredBaseline, slotCondition } from '../workspace/slot.js';
import { paths, readSlot, repoName, type PythonStatus, type SlotState, slotName, writeSlot, writeWorkspace } from '../workspace/workspace.js';

/** What a slot's `.git/info/exclude` gets, so ptg's folders never show in its diffs. */
export const EXCLUDES = ['/*_experiment_*/', '/.claude/', '/.venv/'];

export interface SetupOptions {
  workspace: string;
  /** A URL, or an absolute path (see resolveRepo). */
  repo: string;
  ref?: string;
  /** What a slot holds of the base's past (cloneSlot): default base. */
  history?: History;
  stps: Stp[];
  versions: Version[];
  /** false: skip; undefined: uv or python3 -m venv; a list: these shell commands. */
  python: false | string[] | undefined;
  env?: NodeJS.ProcessEnv;
}

export type SetupStep = 'checkout' | 'install' | 'python';

export interface SetupEvents {
  onMirror?(state: 'start' | 'done', detail?: string): void;
  onStep?(stp: string, step: SetupStep, state: 'start' | 'done' | 'failed', detail?: string): void;
}

export interface SlotResult {
  stp: string;
  slot: string;
  dir: string;
  ok: boolean;
  /** What happened to the checkout. */
  checkout: 'cloned' | 'updated' | 'unchanged' | 'kept' | 'error';
  baseCommit?: string;
  python?: PythonStatus;
  /** Why the slot is not ready. */
  reason?: string;
}

export interface SetupResult {
  workspace: string;
  repo: string;
  baseCommit: string;
  slots: SlotResult[];
}

/** A URL (https://, file://, ssh://) or scp-style `git@host:org/repo.git` as given; a path resolved against `base`. */
export function resolveRepo(repo: string, base: string): string {
  const isUrl = /^[a-z][\w+.-]*:\/\//i.test(repo) || /^[\w.-]+@[\w.-]+:/.test(repo);
  return isUrl ? repo : path.resolve(base, repo);
}

/**
 * Makes or updates one slot per STP from a single fetch, installs versions, sets up Python.
 * Holds the slots' locks throughout; refuses (exit 2), with nothing changed, while a run holds one.
 */
export async function setup(opts: SetupOptions, events: SetupEvents = {}): Promise<SetupResult> {
  // Before anything changes: a run's agent may be writing in any of these slots.
  const release = await lockSlots(opts.workspace, opts.stps.map((stp) => slotName(stp, repoName(opts.repo))), { command: 'setup' });
  try {
    return await setupLocked(opts, events);
  } finally {
    await release();
  }
}

async function setupLocked(opts: SetupOptions, events: SetupEvents): Promise<SetupResult> {
  const ws = opts.workspace;
  const repo = opts.repo;
  events.onMirror?.('start');
  const baseCommit = await updateMirror(paths.mirror(ws), repo, opts.ref);
  events.onMirror?.('done', baseCommit);

  const installs = await Promise.all(opts.versions.map(planVersionInstall));
  const name = repoName(repo);
  // Checkouts wait on the disk more than the CPU: four at a time measured best on 2 cores
  // (seven no better). Python installs wait on the network: all at once.
  const checkoutLimit = pLimit(Math.max(4, os.availableParallelism()));
  const slots = await Promise.all(
    opts.stps.map(async (stp): Promise<SlotResult> => {
      const slot = slotName(stp, name);
      const dir = path.join(ws, slot);
      const { ignored, ...result } = await checkoutLimit(() => prepareCheckout(ws, stp, slot, dir, baseCommit, opts.history ?? 'base', events));
      if (result.checkout === 'error') return result;
      const previous = await readSlot(ws, slot);
      // A ptg that died mid-experiment left other versions parked and maybe an agent's files in ignored paths.
      await restoreParked(ws, { slot, dir });
      const kept = result.checkout === 'kept';
      const leftovers = previous && !kept ? await agentLeftovers({ ...previous, dir }, ignored) : [];
      for (const entry of leftovers) await fs.remove(path.join(dir, entry));

      events.onStep?.(stp.id, 'install', 'start');
      const versions = await applyInstall(dir, installs, previous?.versions ?? []);
      events.onStep?.(stp.id, 'install', 'done', opts.versions.map((v) => v.name).join(', '));

      let python: PythonStatus = { status: 'skipped' };
      if (opts.python !== false) {
        events.onStep?.(stp.id, 'python', 'start');
        // Loaded only here: `--no-python` starts without the process module (10 ms).
        const { setupPython } = await import('./python.js');
        python = await setupPython(dir, opts.python, opts.env);
        events.onStep?.(stp.id, 'python', python.status === 'failed' ? 'failed' : 'done', python.reason);
      }
      const state: SlotState = {
        format: 1,
        stp: stp.id,
        slot,
        dir,
        baseCommit: result.baseCommit!,
        versions,
        python,
        lastExperiment: result.checkout === 'kept' || result.checkout === 'unchanged' ? previous?.lastExperiment : undefined,
        ignoredBaseline: kept && previous?.ignoredBaseline ? previous.ignoredBaseline : await ignoredBaseline(dir, unchangedSince(ignored, leftovers, opts.python)),
        updatedAt: new Date().toISOString(),
      };
      await writeSlot(ws, state);
      const ok = result.checkout !== 'kept' && python.status !== 'failed';
      return { ...result, ok, python, reason: result.reason ?? (python.status === 'failed' ? `Python: ${python.reason}` : undefined) };
    }),
  );
  await writeWorkspace(ws, { format: 1, repo, ref: opts.ref, repoName: name, baseCommit, setupAt: new Date().toISOString() });
  return { workspace: ws, repo, baseCommit, slots };
}

/**
 * The checkout step's result, and what sat in the slot's ignored paths after it when that is known
 * without asking git again: nothing in a fresh clone, git status's list in a slot left as it was.
 */
type Checkout = SlotResult & { ignored?: string[] };

/**
 * What the checkout step saw in ignored paths, when setup has changed nothing there since: it
 * removed no leftovers and made no Python env (an editable install leaves metadata there). Its own
 * installed files (`.claude/`) are in no baseline. Otherwise undefined: git is asked again.
 */
function unchangedSince(ignored: string[] | undefined, removed: string[], python: SetupOptions['python']): string[] | undefined {
  return removed.length === 0 && python === false ? ignored : undefined;
}

/**
 * Rebuilds the repository of a slot (clean, on its base) that reaches past its base (pastBase) or
 * holds another `history` than asked: a slot of an older ptg gets its trim here. What it did, or
 * undefined when the slot was right.
 */
async function trimmedIfPast(ws: string, dir: string, baseCommit: string, history: History): Promise<string | undefined> {
  const past = await pastBase(dir, baseCommit);
  const shallow = await isShallow(dir);
  if (past.length === 0 && shallow === (history === 'none')) return undefined;
  await trimSlot(dir, paths.mirror(ws), baseCommit, history);
  return past.length ? `trimmed (it held ${past.join(', ')})` : history === 'none' ? 'trimmed to the one commit' : "given the base's history";
}

async function prepareCheckout(ws: string, stp: Stp, slot: string, dir: string, baseCommit: string, history: History, events: SetupEvents): Promise<Checkout> {
  const base = { stp: stp.id, slot, dir };
  events.onStep?.(stp.id, 'checkout', 'start');
  const fail = (reason: string): Checkout => {
    events.onStep?.(stp.id, 'checkout', 'failed', reason);
    return { ...base, ok: false, checkout: 'error', reason };
  };
  try {
    if (!(await fs.pathExists(dir))) {
      await cloneSlot(paths.mirror(ws), dir, baseCommit, history);
      await ensureExcluded(dir, EXCLUDES);
      events.onStep?.(stp.id, 'checkout', 'done', 'cloned');
      // A clone holds the commit's files and nothing else: no status to read 1,000 files for.
      return { ...base, ok: true, checkout: 'cloned', baseCommit, ignored: [] };
    }
    if (!(await isCheckout(dir))) {
      return fail(`${dir} exists and is not a git checkout: move it away, or pass another --workspace`);
    }
    await ensureExcluded(dir, EXCLUDES);
    const previous = await readSlot(ws, slot);
    const current = previous ?? { format: 1 as const, stp: stp.id, slot, dir, baseCommit: await headCommit(dir), versions: [], python: { status: 'skipped' as const }, updatedAt: '' };
    // A re-run's usual slot, told by one git process: clean on the base commit, so its tree is the base's.
    const status = await worktreeStatus(dir);
    if (status.clean && status.head === baseCommit && current.baseCommit === baseCommit) {
      const trimmed = await trimmedIfPast(ws, dir, baseCommit, history);
      events.onStep?.(stp.id, 'checkout', 'done', trimmed ? `up to date, ${trimmed}` : 'up to date');
      return { ...base, ok: true, checkout: 'unchanged', baseCommit, ignored: status.ignored };
    }
    const condition = await slotCondition(current);
    if (condition === 'dirty') {
      const reason = `has uncommitted changes: left untouched at ${current.baseCommit.slice(0, 10)} (commit or stash them, or \`ptg clean --force\`, then set up again)`;
      events.onStep?.(stp.id, 'checkout', 'failed', reason);
      return { ...base, ok: false, checkout: 'kept', baseCommit: current.baseCommit, reason };
    }
    if ((await headCommit(dir)) === baseCommit && condition === 'clean') {
      const trimmed = await trimmedIfPast(ws, dir, baseCommit, history);
      events.onStep?.(stp.id, 'checkout', 'done', trimmed ? `up to date, ${trimmed}` : 'up to date');
      return { ...base, ok: true, checkout: 'unchanged', baseCommit };
    }
    await fetchFromMirror(dir, paths.mirror(ws), baseCommit);
    const head = await headCommit(dir);
    if (head !== current.baseCommit) await keepInMirror(dir, paths.mirror(ws), `${slot}-setup-${Date.now()}`, head);
    // Clean, or holding only what the last experiment's changes.patch already has.
    await resetTo(dir, baseCommit);
    const trimmed = await trimmedIfPast(ws, dir, baseCommit, history);
    events.onStep?.(stp.id, 'checkout', 'done', `updated to ${baseCommit.slice(0, 10)}${trimmed ? `, ${trimmed}` : ''}`);
    return { ...base, ok: true, checkout: 'updated', baseCommit };
  } catch (error) {
    return fail(gitReason(error));
  }
}
