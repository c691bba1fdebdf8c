import path from 'node:path';
import fs from 'fs-extra';
import { PtgError, UsageError } from '../../errors.js';
import { readJson, readJsonIfExists, writeJsonAtomic } from '../../io/files.js';
import type { ChangedFile } from '../../io/git.js';
import type { CheckResults, Verification } from './check-results.js';
import type { Tokens } from '../../io/streamjson.js';
import { compareIds } from '../root/root.js';
import { paths } from './workspace.js';

/** `skipped`: never started, for the reason in `skipReason` (the run's --max-cost was spent). */
/** A sequential run's carried files (core/run/carry.ts). */
/** Lines per carried file (a file that is not there has no entry). */
export type CarriedLines = Record<string, number>;

export interface CarryStatus {
  /** The folder the files came from: the previous experiment's carry/out, or --carry-from. */
  from?: string;
  received: CarriedLines;
  left: CarriedLines;
}

/** What else shaped the agent (core/agent/agent-context.ts). */
export interface AgentContext {
  /** sha256 over the base commit and each file's name and bytes. */
  hash: string;
  /** The files hashed: repository paths, `~/.claude/…` for the user's. */
  files: string[];
}

/** What of the network a sandbox let through (core/agent/network.ts): `on`, `off`, or the allowed `host:port`s. */
export type NetworkRecord = 'on' | 'off' | string[];

export function networkText(n: NetworkRecord | undefined): string {
  return n === undefined ? 'on' : Array.isArray(n) ? n.join(', ') : n;
}

/** What status.json and the manifest say an experiment ran under (core/agent/sandbox.ts). */
export type SandboxRecord = ({ kind: 'bwrap'; version: string } & SandboxNetwork) | ({ kind: 'none'; reason: string } & SandboxNetwork);

interface SandboxNetwork {
  /** What the agents reached of the network (core/agent/network.ts); unrecorded before ptg limited it: on. */
  network?: NetworkRecord;
  /** What the checks reached. */
  checkNetwork?: NetworkRecord;
}

/** `bwrap 0.8.0`, `bwrap 0.8.0 · network off`, or `none (bubblewrap (bwrap) is not on PATH)`. */
export function sandboxText(record: SandboxRecord | undefined): string {
  if (!record) return 'none (ptg before sandboxes)';
  const network = record.network && record.network !== 'on' ? ` · network ${networkText(record.network)}` : '';
  return record.kind === 'bwrap' ? `bwrap ${record.version}${network}` : `none (${record.reason})`;
}

export type ExperimentState = 'pending' | 'running' | 'succeeded' | 'failed' | 'agent_error' | 'timed_out' | 'interrupted' | 'skipped' | 'usage_limited';

/** Where a secret's value was found and replaced by `***NAME***`: in the slot, or in the experiment folder. */
export interface MaskedFile {
  where: 'slot' | 'experiment';
  file: string;
  name: string;
  count: number;
}

/** What `status.json` in an experiment folder holds. */
export interface ExperimentStatus {
  format: 1;
  stp: string;
  version: string;
  runId: string;
  repeat?: number;
  /** The model asked for with --model; `model` is what the agent's init event reported. */
  requestedModel?: string;
  slot: string;
  baseCommit: string;
  state: ExperimentState;
  /** What the agent ran under: bubblewrap and its version, or none and why. */
  sandbox?: SandboxRecord;
  pid?: number;
  exitCode?: number;
  signal?: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  timeoutMs?: number;
  /** Why ptg ended the agent: its --timeout, --idle-timeout, an interrupt, a hang after its result. */
  /** With a network allow-list: the `host:port`s the agent asked for and the proxy refused. */
  networkRefused?: string[];
  stopReason?: 'timeout' | 'idle' | 'interrupt' | 'after_result' | 'error';
  /** `budget`: never started because the run's --max-cost was spent, or ended by the agent's own --max-budget-usd. */
  budget?: 'run' | 'experiment';
  idleTimeoutMs?: number;
  /** The environment marker every process of this agent carried (`PTG_MARKER=<marker>`). */
  marker?: string;
  model?: string;
  sessionId?: string;
  /** What the agent's init event said it loaded: its slash commands and skills. */
  loaded?: { commands?: string[]; skills?: string[] };
  turns?: number;
  tokens?: Tokens;
  costUsd?: number;
  /** The agent's own error: a result with is_error, or why it could not start. */
  agentError?: string;
  /** The HTTP status of the API error the agent's session ended on, where it says. */
  apiErrorStatus?: number;
  /** State `usage_limited`: the agent's usage limit was reached; its message and when it resets. */
  usageLimit?: { message: string; resetsAt?: string };
  changedFiles?: ChangedFile[];
  /** Generated or changed Python test files (`test_*.py` / `*_test.py`), repository paths. */
  testFiles?: string[];
  pyright?: { files: string[]; errors: number; warnings: number; failure?: string };
  /** Each check's verdict (see core/checks/checks.ts), by name; the output is in `checks/`. */
  checks?: CheckResults;
  /** `ptg verify` runs of the checks on the recorded changes, oldest first; `checks` above stays the run's own. */
  verifications?: Verification[];
  /** Uncommitted work found in the slot before this experiment, saved here first. */
  savedPatch?: string;
  /** What this agent left in ignored paths (git shows none of it); removed before the slot's next experiment. */
  ignoredFiles?: string[];
  /** What an earlier agent had left in ignored paths, removed before this experiment started. */
  removedBeforeStart?: string[];
  /** Where values of the run's secrets were masked (names and counts, never the values). */
  masked?: MaskedFile[];
  /** Files kept from the slot by `artifacts` globs, repository paths, copied under `artifacts/`. */
  artifacts?: string[];
  /**
   * Earlier attempts, their files in `attempt-<k>/` (cost and tokens above count them all): run
   * again after a transient error (--retries), `rateLimited` (a start refused for load, queued
   * again) or `usageLimit` (run again after the usage limit's reset).
   */
  retries?: { attempt: number; reason: string; rateLimited?: true; usageLimit?: true; costUsd?: number; tokens?: Tokens }[];
  /** A sequential run's carried files: where they came from, lines received and left. */
  carry?: CarryStatus;
  /** What else shapes the agent's behaviour here (CLAUDE.md files, settings, base commit), hashed. */
  context?: AgentContext;
  /** The Slurm task that ran it (`ptg run --executor slurm`). */
  slurm?: SlurmPlace;
}

/** Where on a Slurm cluster an experiment ran: the job array, its task, the node. */
export interface SlurmPlace {
  jobId: string;
  arrayTaskId: number;
  node?: string;
}

/** A run submitted to Slurm (core/run/slurm.ts): one job array, one report job after it. */
export interface SlurmSubmission {
  submittedAt: string;
  /** The scripts in the run's folder, and the arguments sbatch got besides ptg's own. */
  scripts: { task: string; report: string };
  sbatchArgs: string[];
  /** The STP ids each array task runs, by task index. */
  tasks: string[][];
  arrayJobId?: string;
  reportJobId?: string;
  /** The jobs of earlier submissions of this run (before a --resume). */
  earlierJobs?: string[];
}

export interface ManifestExperiment {
  stp: string;
  repeat?: number;
  /** The model asked for (--model): a matrix run has one experiment per STP and model. */
  model?: string;
  /** The model the agent's init event reported. */
  reportedModel?: string;
  slot: string;
  /** Absolute path of the experiment folder. */
  dir: string;
  baseCommit: string;
  promptSha256: string;
  state: ExperimentState;
  attempts: number;
  pid?: number;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  exitCode?: number;
  turns?: number;
  costUsd?: number;
  /** A sequential run: lines of each carried file this experiment left. */
  carried?: CarriedLines;
  /** Each check's verdict (null: it could not run), the latest verification's where there is one. */
  checks?: Record<string, boolean | null>;
}

/** A usage limit a run met at one experiment: what the agent said, and what ptg did. */
export interface UsageLimitEvent {
  at: string;
  stp: string;
  message: string;
  resetsAt?: string;
  /** No agent started until then. */
  until?: string;
  /** The reset was further than --max-wait (or unknown): the run stopped starting agents. */
  stopped?: true;
}

export interface RunManifest {
  format: 1;
  version: string;
  kind: 'monolithic' | 'orchestrated';
  runId: string;
  ptgVersion: string;
  host: string;
  pid: number;
  /** `usage_limited`: it stopped at a usage limit that resets later than --max-wait; `--resume` runs the rest. */
  state: 'running' | 'finished' | 'interrupted' | 'usage_limited';
  startedAt: string;
  finishedAt?: string;
  repo: string;
  /** `env`: the names of the variables ptg added or required for the agent (never their values). */
  agent: { command: string; args: string[]; version: string; env?: string[] };
  /** Every agent of the run carries `PTG_MARKER=<marker><n>` in its environment. */
  marker?: string;
  /** What its agents ran under: bubblewrap and its version, or none and why (core/agent/sandbox.ts). */
  sandbox?: SandboxRecord;
  model?: string;
  /** The models of a matrix run (--model a,b). */
  models?: string[];
  /** sha256 of the version's installed files (prompt or orchestrator and skills). */
  versionHash: string;
  concurrency: number;
  /** When the model API's load lowered the number of agents at once, and raised it back (core/run/concurrency.ts). */
  concurrencyChanges?: { at: string; from: number; to: number; reason: string }[];
  /** Each usage limit the run met: waited out until `until`, or where it `stopped` (core/run/execute.ts). */
  usageLimits?: UsageLimitEvent[];
  /** Agents of the first wave start this far apart (--start-gap). */
  startGapMs?: number;
  timeoutMs?: number;
  repeat: number;
  shard?: string;
  /** One experiment at a time in STP order, each handing `carry` to the next; the last ones are kept in `carry/` beside the manifest. */
  sequential?: { carry: string[]; carryFrom?: string };
  experiments: ManifestExperiment[];
  /** Submitted to Slurm (--executor slurm): the latest submission. */
  slurm?: SlurmSubmission;
}

/**
 * Where an experiment folder sits inside its workspace, the same on every machine:
 * `experiments/<version>_experiment_<run-id>/<slot>`, or `<slot>/<folder>` for workspaces of
 * ptg 0.1, which kept experiment folders inside the slots.
 */
export function experimentRelDir(dir: string): string {
  const parent = path.dirname(dir);
  if (path.basename(path.dirname(parent)) === 'experiments' && parent.includes('_experiment_')) {
    return path.join('experiments', path.basename(parent), path.basename(dir));
  }
  return path.join(path.basename(parent), path.basename(dir));
}

export function runDir(ws: string, version: string, runId: string): string {
  return path.join(paths.runs(ws), version, runId);
}

export function manifestFile(ws: string, version: string, runId: string): string {
  return path.join(runDir(ws, version, runId), 'manifest.json');
}

export async function writeManifest(ws: string, manifest: RunManifest): Promise<void> {
  await writeJsonAtomic(manifestFile(ws, manifest.version, manifest.runId), manifest);
}

export async function readManifest(ws: string, version: string, runId: string): Promise<RunManifest | undefined> {
  return readJsonIfExists<RunManifest>(manifestFile(ws, version, runId), 1);
}

/** Every run in the workspace, oldest first; `version` narrows it. */
export async function listRuns(ws: string, version?: string): Promise<RunManifest[]> {
  const root = paths.runs(ws);
  const versions = version ? [version] : ((await fs.readdir(root).catch(() => [])) as string[]);
  const runs: RunManifest[] = [];
  for (const v of versions) {
    for (const id of (await fs.readdir(path.join(root, v)).catch(() => [])) as string[]) {
      const file = manifestFile(ws, v, id);
      if (await fs.pathExists(file)) runs.push(await readJson<RunManifest>(file, 1));
    }
  }
  return runs.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.runId.localeCompare(b.runId));
}

/** The run `runId` of `version`, or its latest run; a clear error naming the runs that exist. */
export async function findRun(ws: string, version: string, runId?: string): Promise<RunManifest> {
  const runs = await listRuns(ws, version);
  if (runs.length === 0) throw new PtgError(`No runs of ${version} in ${ws}: start one with \`ptg run ${version}\`.`);
  if (!runId) return runs.at(-1)!;
  const run = runs.find((r) => r.runId === runId);
  if (!run) throw new PtgError(`No run ${runId} of ${version}. Runs of ${version}: ${runs.map((r) => r.runId).join(', ')}.`);
  return run;
}

/** Which experiment of a run: `--stp`, and `--model` / `--repeat` where the run has several of an STP. */
export interface ExperimentChoice {
  stp: string;
  model?: string;
  repeat?: string;
}

/** The one experiment of `run` that `choice` names; an error saying what is missing when it names none or several. */
export function pickExperiment(run: RunManifest, choice: ExperimentChoice): ManifestExperiment {
  const { stp, model, repeat } = choice;
  const matches = run.experiments.filter((e) => e.stp === stp && (!model || e.model === model) && (!repeat || String(e.repeat) === repeat));
  if (matches.length === 0) throw new PtgError(`Run ${run.runId} of ${run.version} has no experiment of STP ${stp}${model ? ` with model ${model}` : ''}${repeat ? ` (repeat ${repeat})` : ''}.`);
  if (matches.length > 1) {
    const flags = [run.models ? '--model' : '', run.repeat > 1 ? '--repeat' : ''].filter(Boolean).join(' and ');
    throw new UsageError(`Run ${run.runId} has ${matches.length} experiments of STP ${stp}: say which with ${flags}.`);
  }
  return matches[0]!;
}

/**
 * Where an experiment's folder is in this workspace: at its place in the workspace (a run
 * unpacked from another machine's `ptg pack` names that machine's paths), else where the
 * manifest says.
 */
export async function experimentFolder(ws: string, e: Pick<ManifestExperiment, 'dir'>): Promise<string> {
  const here = path.join(ws, experimentRelDir(e.dir));
  return (await fs.pathExists(here)) ? here : e.dir;
}

export function sortExperiments<T extends { stp: string; repeat?: number; model?: string }>(list: T[]): T[] {
  return [...list].sort((a, b) => compareIds(a.stp, b.stp) || (a.model ?? '').localeCompare(b.model ?? '') || (a.repeat ?? 1) - (b.repeat ?? 1));
}

export function statusFile(expDir: string): string {
  return path.join(expDir, 'status.json');
}

export async function readStatus(expDir: string): Promise<ExperimentStatus | undefined> {
  return readJsonIfExists<ExperimentStatus>(statusFile(expDir), 1).catch(() => undefined);
}
