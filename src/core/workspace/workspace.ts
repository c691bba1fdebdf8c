// core/workspace/ — imports from core/root (and io/); imported by core/agent, core/setup, core/checks, core/run, core/reports, render/, commands/. The order of core's folders: docs/architecture.md.
import path from 'node:path';
import fs from 'fs-extra';
import { UsageError } from '../../errors.js';
import { readJsonIfExists, writeJsonAtomic } from '../../io/files.js';
import type { Root, Stp } from '../root/root.js';

/** Where ptg keeps its own state inside a workspace. */
export const paths = {
  state: (ws: string) => path.join(ws, '.ptg'),
  mirror: (ws: string) => path.join(ws, '.ptg', 'mirror.git'),
  workspaceFile: (ws: string) => path.join(ws, '.ptg', 'workspace.json'),
  slotFile: (ws: string, slot: string) => path.join(ws, '.ptg', 'slots', `${slot}.json`),
  saved: (ws: string) => path.join(ws, '.ptg', 'saved'),
  locks: (ws: string) => path.join(ws, '.ptg', 'locks'),
  runs: (ws: string) => path.join(ws, '.ptg', 'runs'),
  /** `ptg verify`'s throwaway checkouts, `<pid>-<nonce>/<n>/`: removed when it ends, and by the next verify after a kill -9. */
  checkouts: (ws: string) => path.join(ws, '.ptg', 'checkouts'),
  /** The agents' `--version` answers, so `ptg run` names the version before it asks (core/agent/agent.ts). */
  agentVersions: (ws: string) => path.join(ws, '.ptg', 'agents.json'),
  /** Slots' installed files of other versions, moved out of the slot while an experiment runs. */
  parked: (ws: string, slot: string) => path.join(ws, '.ptg', 'parked', slot),
  /**
   * Experiment folders: `experiments/<version>_experiment_<run-id>/<slot>/`, outside every slot,
   * so no agent can read another experiment's records.
   */
  experiments: (ws: string) => path.join(ws, 'experiments'),
};

export interface WorkspaceState {
  format: 1;
  repo: string;
  ref?: string;
  repoName: string;
  baseCommit: string;
  setupAt: string;
}

export interface InstalledVersion {
  version: string;
  /** sha256 of the version's installed files, paths and contents. */
  hash: string;
  files: string[];
}

export interface PythonStatus {
  status: 'ready' | 'skipped' | 'failed';
  reason?: string;
  python?: string;
}

export interface SlotState {
  format: 1;
  stp: string;
  slot: string;
  dir: string;
  baseCommit: string;
  versions: InstalledVersion[];
  python: PythonStatus;
  /**
   * The work tree an experiment left, whose changes its changes.patch holds: a slot in exactly
   * this state can be reset without saving anything again.
   */
  lastExperiment?: {
    tree: string;
    dir: string;
    /** The commit the tree sits on when it is not `baseCommit`: `ptg handoff` of an experiment made on an earlier base. */
    commit?: string;
  };
  /**
   * What sat in ignored paths when setup finished (`.venv/`, an editable install's metadata):
   * kept by every reset. Anything else there was left by an agent.
   */
  ignoredBaseline?: string[];
  updatedAt: string;
}

export function resolveWorkspace(root: Root, flag?: string): string {
  return path.resolve(root.dir, flag ?? root.config.workspace ?? 'parallel');
}

/** `https://host/org/openshift-virtualization-tests.git` -> `openshift-virtualization-tests`. */
export function repoName(url: string): string {
  const name = path.basename(url.replace(/[/\\]+$/, '')).replace(/\.git$/, '');
  return name.replace(/[^\w.-]/g, '_') || 'repo';
}

export function slotName(stp: Stp, repo: string): string {
  return `${stp.id}-${repo}`;
}

export async function readWorkspace(ws: string): Promise<WorkspaceState | undefined> {
  return readJsonIfExists<WorkspaceState>(paths.workspaceFile(ws), 1);
}

/** The workspace state, or the error that says to run setup. */
export async function requireWorkspace(ws: string): Promise<WorkspaceState> {
  const state = await readWorkspace(ws);
  if (!state) throw new UsageError(`Workspace ${ws} is not set up: run \`ptg setup\` first.`);
  return state;
}

export async function readSlot(ws: string, slot: string): Promise<SlotState | undefined> {
  return readJsonIfExists<SlotState>(paths.slotFile(ws, slot), 1);
}

export async function writeSlot(ws: string, state: SlotState): Promise<void> {
  await writeJsonAtomic(paths.slotFile(ws, state.slot), state);
}

export async function writeWorkspace(ws: string, state: WorkspaceState): Promise<void> {
  await fs.ensureDir(paths.state(ws));
  await writeJsonAtomic(paths.workspaceFile(ws), state);
}
