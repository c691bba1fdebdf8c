import { setMaxListeners } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import fs from 'fs-extra';
import pLimit from 'p-limit';
import { UsageError } from '../errors.js';
import { MARKER_PREFIX, which } from '../io/proc.js';
import type { AgentFigures } from '../io/streamjson.js';
import { askAgentVersion, cachedAgentVersion, DEFAULT_AGENT } from './agent.js';
import { type ExperimentPlan, runExperiment } from './experiment.js';
import { commandName, planVersionInstall } from './install.js';
import { lockSlots } from './lock.js';
import { type ExperimentStatus, type RunManifest, readManifest, runDir, sortExperiments, writeManifest } from './manifest.js';
import { buildPrompt, sha256 } from './prompt.js';
import type { Root, Stp, Version } from './root.js';
import { paths, readSlot, requireWorkspace, type SlotState, slotName } from './workspace.js';

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
  timeoutMs?: number;
  idleTimeoutMs?: number;
  runId?: string;
  resume?: string;
  repeat?: number;
  shard?: string;
  env: NodeJS.ProcessEnv;
  ptgVersion: string;
}

export interface RunPlan {
  manifest: RunManifest;
  experiments: ExperimentPlan[];
  agentPath: string;
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

export function experimentDirName(version: string, runId: string, repeat?: number): string {
  return `${version}_experiment_${runId}${repeat ? `_r${repeat}` : ''}`;
}

/**
 * Checks everything that can be checked before an agent starts: the refusals of `ptg run`.
 * Returns the agent's absolute path.
 */
export async function preflight(req: Pick<RunRequest, 'workspace' | 'stps' | 'agentCommand' | 'env'> & { args: string[] }): Promise<string> {
  await requireWorkspace(req.workspace);
  if (req.stps.length === 0) throw new UsageError('No STPs selected: check --stp and --shard.');
  const agentPath = await which(req.agentCommand, req.env.PATH);
  if (!agentPath) {
    throw new UsageError(
      req.agentCommand === DEFAULT_AGENT
        ? 'Claude Code (`claude`) is not on PATH: install it with `npm install -g @anthropic-ai/claude-code`, or name another agent with --agent or PTG_AGENT.'
        : `Agent \`${req.agentCommand}\` not found: give a path or a command on PATH.`,
    );
  }
  if (process.getuid?.() === 0 && req.args.includes('--dangerously-skip-permissions') && req.env.IS_SANDBOX !== '1') {
    const set = req.env.IS_SANDBOX ? ` (it is "${req.env.IS_SANDBOX}": claude accepts only 1)` : '';
    throw new UsageError(
      `Running as root: claude refuses --dangerously-skip-permissions unless IS_SANDBOX=1${set}. In a container or sandbox, run \`IS_SANDBOX=1 ptg run ...\`; elsewhere, run ptg as a normal user.`,
    );
  }
  return agentPath;
}

/** Resolves slots, prompts, the run id and the manifest; starts nothing. */
export async function planRun(req: RunRequest): Promise<RunPlan> {
  const args = [...DEFAULT_AGENT_ARGS, ...req.extraArgs];
  const agentPath = await preflight({ ...req, args });
  const ws = await requireWorkspace(req.workspace);
  const install = await planVersionInstall(req.version);

  const slots = new Map<string, SlotState>();
  for (const stp of req.stps) {
    const name = slotName(stp, ws.repoName);
    const slot = await readSlot(req.workspace, name);
    if (!slot) throw new UsageError(`STP ${stp.id} has no slot yet: run \`ptg setup\` first.`);
    const installed = slot.versions.find((v) => v.version === req.version.name);
    if (installed?.hash !== install.hash) {
      throw new UsageError(`${req.version.name} ${installed ? 'changed' : 'is new'} since the slots were set up: run \`ptg setup\` to install it.`);
    }
    slots.set(stp.id, slot);
  }

  const versionText = await fs.readFile(req.version.entryFile, 'utf8');
  let asked: Promise<string> | undefined;
  const agentVersion = () => (asked ??= agentVersionOf(agentPath, req.env, req.workspace));
  const repeat = req.repeat ?? 1;
  let manifest: RunManifest;
  const retried: string[] = [];
  let runId: string;
  const planned: ExperimentPlan[] = [];

  const plan = async (stp: Stp, r?: number, dir?: string): Promise<ExperimentPlan> => {
    const slot = slots.get(stp.id)!;
    const prompt = buildPrompt(req.version, versionText, await fs.readFile(stp.file, 'utf8'), stp.file, req.root.config.prompts);
    return {
      stp: stp.id,
      stpFile: stp.file,
      repeat: r,
      slot: slot.slot,
      slotDir: slot.dir,
      dir: dir ?? path.join(paths.experiments(req.workspace), experimentDirName(req.version.name, runId, r), slot.slot),
      baseCommit: slot.baseCommit,
      prompt,
      promptSha256: sha256(prompt),
    };
  };

  if (req.resume) {
    runId = validateRunId(req.resume);
    const previous = await readManifest(req.workspace, req.version.name, runId);
    if (!previous) throw new UsageError(`No run ${runId} of ${req.version.name} to resume: \`ptg runs\` lists them.`);
    if (previous.versionHash !== install.hash) {
      throw new UsageError(`${req.version.name} changed since run ${runId} started: resuming would mix two versions in one run. Start a new run instead.`);
    }
    manifest = { ...previous, pid: process.pid, state: 'running', finishedAt: undefined, agent: { command: req.agentCommand, args, version: 'unknown' } };
    const wanted = new Set(req.stps.map((s) => s.id));
    for (const e of previous.experiments) {
      if (e.state === 'succeeded' || !wanted.has(e.stp)) continue;
      const stp = req.stps.find((s) => s.id === e.stp)!;
      // Its folder stays where the run put it (inside the slot for a run of ptg 0.1).
      planned.push(await plan(stp, e.repeat, e.dir));
      retried.push(e.dir);
    }
    if (planned.length === 0) throw new UsageError(`Every experiment of ${req.version.name} ${runId} succeeded: nothing to resume.`);
  } else {
    runId = await claimRunId(req.workspace, req.version.name, req.runId);
    for (const stp of req.stps) {
      for (let r = 1; r <= repeat; r++) planned.push(await plan(stp, repeat > 1 ? r : undefined));
    }
    manifest = {
      format: 1,
      version: req.version.name,
      kind: req.version.kind,
      runId,
      ptgVersion: req.ptgVersion,
      host: os.hostname(),
      pid: process.pid,
      state: 'running',
      startedAt: new Date().toISOString(),
      repo: ws.repo,
      agent: { command: req.agentCommand, args, version: 'unknown' },
      marker: MARKER_PREFIX,
      model: modelOf(args),
      versionHash: install.hash,
      concurrency: 0,
      timeoutMs: req.timeoutMs,
      repeat,
      shard: req.shard,
      experiments: [],
    };
  }
  manifest.concurrency = Math.max(1, Math.min(req.concurrency ?? planned.length, planned.length));
  manifest.timeoutMs = req.timeoutMs;
  const byDir = new Map(manifest.experiments.map((e) => [e.dir, e]));
  for (const e of planned) {
    const old = byDir.get(e.dir);
    byDir.set(e.dir, {
      stp: e.stp,
      repeat: e.repeat,
      slot: e.slot,
      dir: e.dir,
      baseCommit: e.baseCommit,
      promptSha256: e.promptSha256,
      state: 'pending',
      attempts: old?.attempts ?? 0,
    });
  }
  manifest.experiments = sortExperiments([...byDir.values()]);
  manifest.marker = MARKER_PREFIX;
  const cached = await cachedAgentVersion(req.workspace, agentPath);
  return { manifest, experiments: planned, agentPath, agentVersion, cachedAgentVersion: cached, retried, claimed: !req.resume };
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

/** The agent's `--version`, also recorded for the first line of the next run (core/agent.ts). */
async function agentVersionOf(agentPath: string, env: NodeJS.ProcessEnv, workspace: string): Promise<string> {
  const result = await askAgentVersion(agentPath, env, workspace).catch(() => undefined);
  return result?.ok ? result.version : 'unknown';
}

export interface RunEvents {
  onExperimentStarted?(exp: ExperimentPlan, pid: number | undefined): void;
  onExperimentProgress?(exp: ExperimentPlan, figures: AgentFigures): void;
  onExperimentFinished?(exp: ExperimentPlan, status: ExperimentStatus): void;
}

export interface RunResult {
  manifest: RunManifest;
  statuses: ExperimentStatus[];
  interrupted: boolean;
}

/**
 * Carries out a plan: experiments in parallel up to the concurrency, one at a time per slot,
 * the manifest kept current. An aborted `signal` stops launching and ends every agent.
 */
export async function executeRun(plan: RunPlan, req: RunRequest, signal: AbortSignal, events: RunEvents = {}): Promise<RunResult> {
  const { manifest } = plan;
  const ws = req.workspace;
  // Each running experiment listens for the abort: more than Node's default of 10 is expected.
  setMaxListeners(manifest.concurrency + 10, signal);
  let release: () => Promise<void>;
  try {
    release = await lockSlots(ws, [...new Set(plan.experiments.map((e) => e.slot))], { version: manifest.version, runId: manifest.runId });
  } catch (error) {
    // A refused run gives its id back: `--run-id X` stays free, and `--resume X` finds no half-run.
    if (plan.claimed) await fs.rmdir(runDir(ws, manifest.version, manifest.runId)).catch(() => undefined);
    throw error;
  }
  try {
    for (const dir of plan.retried) await keepAttempt(dir);
    // A manifest that cannot be written (a full disk) must not tear the run down: its agents
    // finish and their folders are complete. The run then ends with the error.
    let saveError: unknown;
    let saving = Promise.resolve();
    const save = () =>
      (saving = saving.then(() => writeManifest(ws, manifest)).catch((error) => {
        saveError ??= error;
      }));
    const recordVersion = () =>
      void plan.agentVersion().then((version) => {
        manifest.agent.version = version;
        void save();
      });
    let started = 0;
    const entry = (exp: ExperimentPlan) => manifest.experiments.find((e) => e.dir === exp.dir)!;
    await save();

    const limit = pLimit(manifest.concurrency);
    const statuses: ExperimentStatus[] = [];
    const bySlot = new Map<string, ExperimentPlan[]>();
    for (const exp of plan.experiments) bySlot.set(exp.slot, [...(bySlot.get(exp.slot) ?? []), exp]);

    const one = async (exp: ExperimentPlan) => {
      const e = entry(exp);
      if (signal.aborted) {
        e.state = 'interrupted';
        return;
      }
      Object.assign(e, { state: 'running', attempts: e.attempts + 1, startedAt: new Date().toISOString(), finishedAt: undefined });
      const status = await runExperiment(exp, {
        workspace: ws,
        version: manifest.version,
        runId: manifest.runId,
        agent: { command: plan.agentPath, args: manifest.agent.args },
        env: req.env,
        timeoutMs: req.timeoutMs,
        idleTimeoutMs: req.idleTimeoutMs,
        command: req.version.kind === 'orchestrated' ? commandName(req.version) : undefined,
        signal,
        onStarted: (pid) => {
          e.pid = pid;
          // The first wave is off: now there is CPU to spare for the agent's --version.
          if (++started === manifest.concurrency) recordVersion();
          void save();
          events.onExperimentStarted?.(exp, pid);
        },
        onProgress: (figures) => events.onExperimentProgress?.(exp, figures),
      });
      Object.assign(e, {
        state: status.state,
        finishedAt: status.finishedAt,
        durationMs: status.durationMs,
        exitCode: status.exitCode,
        turns: status.turns,
        costUsd: status.costUsd,
        pid: undefined,
      });
      if (!manifest.model && status.model) manifest.model = status.model;
      statuses.push(status);
      await save();
      events.onExperimentFinished?.(exp, status);
    };
    await Promise.all([...bySlot.values()].map(async (list) => {
      for (const exp of list) await limit(() => one(exp));
    }));

    manifest.state = signal.aborted ? 'interrupted' : 'finished';
    manifest.finishedAt = new Date().toISOString();
    manifest.agent.version = await plan.agentVersion();
    await save();
    if (saveError) throw saveError;
    return { manifest, statuses: sortExperiments(statuses), interrupted: signal.aborted };
  } finally {
    await release();
  }
}

/** A resumed experiment's earlier files move to `attempt-<n>/` inside its folder. */
async function keepAttempt(dir: string): Promise<void> {
  if (!(await fs.pathExists(dir))) return;
  const entries = (await fs.readdir(dir)).filter((name) => !/^attempt-\d+$/.test(name));
  if (entries.length === 0) return;
  let n = 1;
  while (await fs.pathExists(path.join(dir, `attempt-${n}`))) n++;
  const target = path.join(dir, `attempt-${n}`);
  await fs.ensureDir(target);
  for (const name of entries) await fs.move(path.join(dir, name), path.join(target, name));
}
