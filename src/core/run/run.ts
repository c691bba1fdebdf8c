// core/run/ — imports from core/root, core/workspace, core/agent, core/setup, core/checks (and io/); imported by core/reports, render/, commands/. The order of core's folders: docs/architecture.md.
import os from 'node:os';
import path from 'node:path';
import fs from 'fs-extra';
import { UsageError } from '../../errors.js';
import { maskText, type Secret } from '../../io/mask.js';
import { MARKER_PREFIX, which } from '../../io/process/proc.js';
import { askAgentVersion, cachedAgentVersion, DEFAULT_AGENT } from '../agent/agent.js';
import type { ExperimentPlan } from './experiment.js';
import { planVersionInstall } from '../setup/install.js';
import { type CheckSpec, checkSpecs, defaultCheckConcurrency } from '../checks/checks.js';
import { type RunManifest, readManifest, runDir, type SlurmPlace, sortExperiments } from '../workspace/manifest.js';
import { buildPrompt, sha256 } from '../root/prompt.js';
import type { Root, Stp, Version } from '../root/root.js';
import { DEFAULT_SANDBOX, prepareSandbox, type Sandbox, type SandboxSettings } from '../agent/sandbox.js';
import { paths, readSlot, requireWorkspace, type SlotState, slotName } from '../workspace/workspace.js';

export { DEFAULT_AGENT };
export const DEFAULT_AGENT_ARGS = ['-p', '--dangerously-skip-permissions', '--output-format', 'stream-json', '--verbose'];

export interface RunRequest {
  root: Root;
  workspace: string;
  version: Version;
  stps: Stp[];
  /** The agent binary; the default arguments are always passed, `extraArgs` after them. */
  agentCommand: string;
  extraArgs: string[];
  concurrency?: number;
  /** The first wave's agents start this far apart (default START_GAP_MS). */
  startGapMs?: number;
  /** A usage limit resetting within this long is waited out; a later one stops the run (default MAX_WAIT_MS). */
  maxWaitMs?: number;
  timeoutMs?: number;
  idleTimeoutMs?: number;
  runId?: string;
  resume?: string;
  repeat?: number;
  shard?: string;
  env: NodeJS.ProcessEnv;
  /** The variables ptg adds or requires for the agent: their names go into the manifest, never their values. */
  envNames?: string[];
  /** Values masked as `***NAME***` in every file the run keeps. */
  secrets?: Secret[];
  /** Globs of files kept from the slot after each agent ends. */
  artifacts?: string[];
  /** Each model gets every STP (a matrix in one run id); the agent gets `--model M`. */
  models?: string[];
  /** Plan only: no run id is claimed, no lock taken, nothing written, no agent asked anything. */
  dryRun?: boolean;
  /** Runs again, after a back-off, an experiment that ended on a transient API error: at most this many times. */
  retries?: number;
  /** No experiment starts once the run's recorded cost (finished ones, and what running ones reported so far) reaches this. */
  maxCostUsd?: number;
  /** Verdicts run in each slot after its agent ends (default: pyright). */
  checks?: CheckSpec[];
  /** Checks at once across the run (default: the number of cores). */
  checkConcurrency?: number;
  /** One experiment at a time in STP order, each receiving `carry` as the previous one left it. */
  sequential?: boolean;
  carry?: string[];
  /** What the first experiment of the chain receives: a file (the one carried path) or a folder of them. */
  carryFrom?: string;
  /** Where the agents run (core/agent/sandbox.ts); default `auto`. */
  sandbox?: SandboxSettings;
  /** This ptg is one task of a run submitted to Slurm (core/run/slurm.ts): it shares the manifest. */
  slurmTask?: SlurmPlace;
  ptgVersion: string;
}

export interface RunPlan {
  manifest: RunManifest;
  experiments: ExperimentPlan[];
  agentPath: string;
  /** Probed once for the run: every agent and check of it runs under this. */
  sandbox: Sandbox;
  /** Asks the agent's `--version` (once): while the first agents run, not before they start. */
  agentVersion: () => Promise<string>;
  /** What this same agent file answered when last asked in this workspace: known before any agent starts. */
  cachedAgentVersion?: string;
  /** The run id was claimed by this plan (not a resume): given back if the run cannot start. */
  claimed: boolean;
  /** Experiment folders of a resumed run that get a new attempt. */
  retried: string[];
}

/** `20260209_143022`: the scripts' timestamp, in local time. */
export function timestampId(date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}_${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

export function validateRunId(id: string): string {
  if (!/^[A-Za-z0-9][\w.-]*$/.test(id) || id.includes('..')) {
    throw new UsageError(`Invalid run id "${id}": use letters, digits, "_", "-" and "." only.`);
  }
  return id;
}

export function modelOf(args: string[]): string | undefined {
  const i = args.findIndex((a) => a === '--model' || a.startsWith('--model='));
  if (i < 0) return undefined;
  return args[i]!.includes('=') ? args[i]!.split('=')[1] : args[i + 1];
}

/** `v3_experiment_<run-id>`, then `_<model>` with --model, then `_r<k>` with --repeat. */
export function experimentDirName(version: string, runId: string, repeat?: number, model?: string): string {
  return `${version}_experiment_${runId}${model ? `_${model.replace(/[^\w.-]/g, '_')}` : ''}${repeat ? `_r${repeat}` : ''}`;
}

/**
 * Checks everything that can be checked before an agent starts: the refusals of `ptg run`.
 * Returns the agent's absolute path.
 */
export async function preflight(req: Pick<RunRequest, 'workspace' | 'stps' | 'agentCommand' | 'env'> & { args: string[] }): Promise<string> {
  await requireWorkspace(req.workspace);
  if (req.stps.length === 0) throw new UsageError('No STPs selected: check --stp and --shard.');
  const agentPath = await findAgent(req.agentCommand, req.env);
  requireSandboxAsRoot(req.args, req.env, 'ptg run');
  return agentPath;
}

/** The agent's absolute path, or the refusal that says how to get one. */
export async function findAgent(command: string, env: NodeJS.ProcessEnv): Promise<string> {
  const agentPath = await which(command, env.PATH);
  if (agentPath) return agentPath;
  throw new UsageError(
    command === DEFAULT_AGENT
      ? 'Claude Code (`claude`) is not on PATH: install it with `npm install -g @anthropic-ai/claude-code`, or name another agent with --agent or PTG_AGENT.'
      : `Agent \`${command}\` not found: give a path or a command on PATH.`,
  );
}

/** As root, claude refuses --dangerously-skip-permissions without IS_SANDBOX=1: say so before it starts. */
export function requireSandboxAsRoot(args: string[], env: NodeJS.ProcessEnv, command: string): void {
  if (process.getuid?.() !== 0 || !args.includes('--dangerously-skip-permissions') || env.IS_SANDBOX === '1') return;
  const set = env.IS_SANDBOX ? ` (it is "${env.IS_SANDBOX}": claude accepts only 1)` : '';
  throw new UsageError(
    `Running as root: claude refuses --dangerously-skip-permissions unless IS_SANDBOX=1${set}. In a container or sandbox, run \`IS_SANDBOX=1 ${command} ...\`; elsewhere, run ptg as a normal user.`,
  );
}

/** Resolves slots, prompts, the run id and the manifest; starts nothing. */
export async function planRun(req: RunRequest): Promise<RunPlan> {
  const args = [...DEFAULT_AGENT_ARGS, ...req.extraArgs].map((arg) => maskText(arg, req.secrets ?? []));
  const agentPath = await preflight({ ...req, args });
  const ws = await requireWorkspace(req.workspace);
  // bubblewrap's probe (two short processes) runs while the run is planned; its refusal still comes before any agent.
  const sandboxReady = prepareSandbox(req.sandbox ?? DEFAULT_SANDBOX, { env: req.env, workspace: req.workspace, agentPath });
  sandboxReady.catch(() => undefined);
  const install = await planVersionInstall(req.version);
  const planOne = experimentPlanner(req, await slotsOf(req, ws.repoName, install.hash), await fs.readFile(req.version.entryFile, 'utf8'));
  const { manifest, planned, retried } = req.resume ? await planResume(req, args, install.hash, planOne) : await planFresh(req, args, { repo: ws.repo, hash: install.hash }, planOne);
  settle(manifest, planned, req);
  const sandbox = await sandboxReady;
  manifest.sandbox = sandbox.record;
  let asked: Promise<string> | undefined;
  const agentVersion = () => (asked ??= agentVersionOf(agentPath, req.env, req.workspace));
  const cached = await cachedAgentVersion(req.workspace, agentPath);
  return { manifest, experiments: planned, agentPath, sandbox, agentVersion, cachedAgentVersion: cached, retried, claimed: !req.resume };
}

/** Each STP's slot, which must hold the version as it is now. */
async function slotsOf(req: RunRequest, repoName: string, hash: string): Promise<Map<string, SlotState>> {
  const slots = new Map<string, SlotState>();
  for (const stp of req.stps) {
    const slot = await readSlot(req.workspace, slotName(stp, repoName));
    if (!slot) throw new UsageError(`STP ${stp.id} has no slot yet: run \`ptg setup\` first.`);
    const installed = slot.versions.find((v) => v.version === req.version.name);
    if (installed?.hash !== hash) {
      throw new UsageError(`${req.version.name} ${installed ? 'changed' : 'is new'} since the slots were set up: run \`ptg setup\` to install it.`);
    }
    slots.set(stp.id, slot);
  }
  return slots;
}

type PlanOne = (stp: Stp, runId: string, repeat?: number, model?: string, dir?: string) => Promise<ExperimentPlan>;

/** One experiment's plan: its slot, its folder, its prompt. */
function experimentPlanner(req: RunRequest, slots: Map<string, SlotState>, versionText: string): PlanOne {
  return async (stp, runId, r, model, dir) => {
    const slot = slots.get(stp.id)!;
    const prompt = buildPrompt(req.version, versionText, await fs.readFile(stp.file, 'utf8'), stp.file, req.root.config.prompts);
    return {
      stp: stp.id,
      stpFile: stp.file,
      repeat: r,
      model,
      slot: slot.slot,
      slotDir: slot.dir,
      dir: dir ?? path.join(paths.experiments(req.workspace), experimentDirName(req.version.name, runId, r, model), slot.slot),
      baseCommit: slot.baseCommit,
      prompt,
      promptSha256: sha256(prompt),
    };
  };
}

interface Planned {
  manifest: RunManifest;
  planned: ExperimentPlan[];
  retried: string[];
}

/** --resume: the run's experiments that did not succeed, in the folders it gave them. */
async function planResume(req: RunRequest, args: string[], hash: string, planOne: PlanOne): Promise<Planned> {
  const runId = validateRunId(req.resume!);
  const previous = await readManifest(req.workspace, req.version.name, runId);
  if (!previous) throw new UsageError(`No run ${runId} of ${req.version.name} to resume: \`ptg runs\` lists them.`);
  if (previous.versionHash !== hash) {
    throw new UsageError(`${req.version.name} changed since run ${runId} started: resuming would mix two versions in one run. Start a new run instead.`);
  }
  const manifest: RunManifest = { ...previous, pid: process.pid, state: 'running', finishedAt: undefined, agent: { command: req.agentCommand, args, version: 'unknown', env: req.envNames } };
  const wanted = new Set(req.stps.map((s) => s.id));
  const planned: ExperimentPlan[] = [];
  const retried: string[] = [];
  for (const e of previous.experiments) {
    if (e.state === 'succeeded' || !wanted.has(e.stp)) continue;
    const stp = req.stps.find((s) => s.id === e.stp)!;
    // Its folder stays where the run put it (inside the slot for a run of ptg 0.1).
    planned.push(await planOne(stp, runId, e.repeat, e.model, e.dir));
    retried.push(e.dir);
  }
  if (planned.length === 0) throw new UsageError(`Every experiment of ${req.version.name} ${runId} succeeded: nothing to resume.`);
  return { manifest, planned, retried };
}

/** A new run: its id claimed (not for a dry run), every STP × model × repeat, a fresh manifest. */
async function planFresh(req: RunRequest, args: string[], target: { repo: string; hash: string }, planOne: PlanOne): Promise<Planned> {
  const runId = req.dryRun ? validateRunId(req.runId ?? timestampId()) : await claimRunId(req.workspace, req.version.name, req.runId);
  const repeat = req.repeat ?? 1;
  const planned: ExperimentPlan[] = [];
  for (const stp of req.stps) {
    for (const model of req.models?.length ? req.models : [undefined]) {
      for (let r = 1; r <= repeat; r++) planned.push(await planOne(stp, runId, repeat > 1 ? r : undefined, model));
    }
  }
  const manifest: RunManifest = {
    format: 1,
    version: req.version.name,
    kind: req.version.kind,
    runId,
    ptgVersion: req.ptgVersion,
    host: os.hostname(),
    pid: process.pid,
    state: 'running',
    startedAt: new Date().toISOString(),
    repo: target.repo,
    agent: { command: req.agentCommand, args, version: 'unknown', env: req.envNames },
    model: req.models?.length === 1 ? req.models[0] : req.models?.length ? undefined : modelOf(args),
    models: req.models?.length ? req.models : undefined,
    versionHash: target.hash,
    concurrency: 0,
    timeoutMs: req.timeoutMs,
    repeat,
    shard: req.shard,
    experiments: [],
  };
  if (req.sequential) manifest.sequential = { carry: req.carry ?? [], carryFrom: req.carryFrom };
  return { manifest, planned, retried: [] };
}

/** The longest wait for a usage limit's reset: a 5-hour limit's, and then some. */
export const MAX_WAIT_MS = 6 * 3_600_000;

/** A few hundred ms between the first agents' starts: a burst of them is what trips a rate limiter (Harbor does the same). */
export const START_GAP_MS = 200;

/** The manifest's concurrency, timeout, marker, and an entry per planned experiment (pending). */
function settle(manifest: RunManifest, planned: ExperimentPlan[], req: RunRequest): void {
  // A sequential run's chains (one per model and repeat) are independent: -j of them side by side.
  const parallel = manifest.sequential ? new Set(planned.map(chainKey)).size : planned.length;
  manifest.concurrency = Math.max(1, Math.min(req.concurrency ?? parallel, parallel));
  manifest.timeoutMs = req.timeoutMs;
  manifest.startGapMs = req.startGapMs ?? START_GAP_MS;
  const byDir = new Map(manifest.experiments.map((e) => [e.dir, e]));
  for (const e of planned) {
    const old = byDir.get(e.dir);
    byDir.set(e.dir, { stp: e.stp, repeat: e.repeat, model: e.model, slot: e.slot, dir: e.dir, baseCommit: e.baseCommit, promptSha256: e.promptSha256, state: 'pending', attempts: old?.attempts ?? 0 });
  }
  manifest.experiments = sortExperiments([...byDir.values()]);
  // This ptg's agents, a resumed run's included, carry this marker (see io/process/proc.ts).
  manifest.marker = MARKER_PREFIX;
}

/** What `ptg run --dry-run` shows: the plan as data, with the environment's names and never a value. */
export function dryRunOf(plan: RunPlan, req: RunRequest) {
  const m = plan.manifest;
  return {
    format: 1 as const,
    version: m.version,
    versionHash: m.versionHash,
    runId: m.runId,
    resume: Boolean(req.resume),
    concurrency: m.concurrency,
    timeoutMs: req.timeoutMs,
    idleTimeoutMs: req.idleTimeoutMs,
    maxCostUsd: req.maxCostUsd,
    retries: req.retries,
    maxWaitMs: req.maxWaitMs ?? MAX_WAIT_MS,
    agent: { path: plan.agentPath, version: plan.cachedAgentVersion, env: req.envNames ?? [] },
    sandbox: plan.sandbox.record,
    models: req.models?.length ? req.models : undefined,
    sequential: m.sequential,
    artifacts: req.artifacts?.length ? req.artifacts : undefined,
    checks: (req.checks ?? checkSpecs()).map((c) => c.name),
    checkConcurrency: req.checkConcurrency ?? defaultCheckConcurrency(),
    experiments: plan.experiments.map((e) => ({
      stp: e.stp,
      model: e.model,
      repeat: e.repeat,
      slot: e.slot,
      dir: e.dir,
      argv: [plan.agentPath, ...m.agent.args, ...(e.model ? ['--model', e.model] : [])],
      promptSha256: e.promptSha256,
      prompt: e.prompt.split('\n').slice(0, 3),
    })),
  };
}

/** Makes the run's folder; taken ids get a suffix, so two runs in one second never share one. */
async function claimRunId(ws: string, version: string, wanted?: string): Promise<string> {
  await fs.ensureDir(path.dirname(runDir(ws, version, 'x')));
  const base = wanted ? validateRunId(wanted) : timestampId();
  for (let n = 1; ; n++) {
    const id = n === 1 ? base : `${base}_${n}`;
    try {
      await fs.mkdir(runDir(ws, version, id));
      return id;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (wanted) throw new UsageError(`Run ${wanted} of ${version} exists already: resume it with --resume ${wanted}, or choose another --run-id.`);
    }
  }
}

/** The agent's `--version`, also recorded for the first line of the next run (core/agent/agent.ts). */
async function agentVersionOf(agentPath: string, env: NodeJS.ProcessEnv, workspace: string): Promise<string> {
  const result = await askAgentVersion(agentPath, env, workspace).catch(() => undefined);
  return result?.ok ? result.version : 'unknown';
}

/** A sequential run's chain: one model and one repeat. */
export const chainKey = (e: { model?: string; repeat?: number }) => `${e.model ?? ''}\0${String(e.repeat ?? 1).padStart(6, '0')}`;
