// `ptg handoff`: an experiment's agent session opened again in its slot, with the files the agent
// left there put back, for a person at the terminal or for a script asking one question (--print).
import os from 'node:os';
import path from 'node:path';
import fs from 'fs-extra';
import { PtgError, UsageError } from '../../errors.js';
import { applyPatch, fetchFromMirror, gitReason, hasCommit, hasOwnRepository, resetTo, worktreeTree } from '../../io/git.js';
import { unmaskText } from '../../io/mask.js';
import { unwrapExit } from '../../io/process/sandbox.js';
import { type AgentExit, type AgentHandle, startAgent, startForegroundAgent, which } from '../../io/process/proc.js';
import { claudeProjectDir } from '../agent/claude-store.js';
import { EXPERIMENT_FILES } from '../workspace/experiment-folder.js';
import { lockSlots } from '../workspace/lock.js';
import { type ExperimentChoice, experimentFolder, findRun, pickExperiment, readStatus } from '../workspace/manifest.js';
import { parkOtherVersions, restoreParked } from '../workspace/park.js';
import { findAgent, requireSandboxAsRoot } from './run.js';
import { DEFAULT_SANDBOX, prepareSandbox, type Sandbox, type SandboxSettings, slotView } from '../agent/sandbox.js';
import { resetSlot } from '../workspace/slot.js';
import { paths, readSlot, requireWorkspace, type SlotState, writeSlot } from '../workspace/workspace.js';

export interface HandoffRequest {
  workspace: string;
  version: string;
  /** Default: the version's latest run. */
  runId?: string;
  choice: ExperimentChoice;
  /** --agent; default: the command the run used, else (a run from another machine) `defaultAgent`. */
  agentCommand?: string;
  /** What `ptg run` would start now: PTG_AGENT, the config's agent.command, or claude. */
  defaultAgent: string;
  /** --agent-arg: after the run's own arguments. */
  extraArgs: string[];
  env: NodeJS.ProcessEnv;
  /** --print: one question, answered headless. Without it the session is interactive. */
  question?: string;
  /** Where the resumed session runs (core/agent/sandbox.ts); default `auto`, as for a run. */
  sandbox?: SandboxSettings;
}

export interface HandoffPlan {
  workspace: string;
  version: string;
  runId: string;
  stp: string;
  slot: string;
  slotDir: string;
  /** The experiment folder. */
  dir: string;
  baseCommit: string;
  patch: string;
  /** The experiment's state and error as its status.json has them. */
  state: string;
  agentError?: string;
  changedFiles: number;
  sessionId?: string;
  /** Where Claude Code keeps that session; it must be there to be resumed. */
  sessionFile?: string;
  /** The command the session runs with, as the run named it (or --agent), and its path here. */
  agentCommand: string;
  agentPath: string;
  /** The agent's arguments: `--resume <id>`, then the run's own but its `-p` stream-json mode. */
  args: string[];
  /** The experiment's model (--model of a matrix run), which a fresh session on its files would want too. */
  model?: string;
  /** The sandbox the session resumes in: the run's view of the slot, its own session folder included. */
  sandbox: Sandbox;
  env: NodeJS.ProcessEnv;
  question?: string;
  /** The version installed in the slot is not the one the run had: it changed, and setup installed it since. */
  versionChanged: boolean;
}

export interface HandoffEvents {
  /** The slot holds the experiment's files; `savedPatch`: the unsaved work found there first. */
  onRestored?(restored: { savedPatch?: string }): void;
  /** The agent runs; `stop` ends it and all it started. */
  onStarted?(agent: AgentHandle): void;
}

export interface HandoffResult {
  savedPatch?: string;
  /** No session to resume (never recorded, or gone from Claude Code's store): the files are in place and no agent started. */
  sessionGone: boolean;
  exit?: AgentExit;
  /** With a question: what the agent printed on its standard output and error. */
  answer?: string;
  stderr?: string;
}

/** The run's agent arguments that put it in `-p` stream-json mode, or that belong to that mode alone: a handoff sets its own. */
const RUN_MODE = new Set(['-p', '--print', '--verbose']);
const RUN_MODE_WITH_VALUE = new Set(['--output-format', '--input-format', '--max-budget-usd']);

/**
 * The run's agent arguments for a session on the same experiment: its mode left out, values the
 * manifest masked (`***NAME***`) taken from `env` again, the experiment's model, then `extra`.
 */
export function sessionArgs(runArgs: string[], model: string | undefined, extra: string[], env: NodeJS.ProcessEnv): string[] {
  const kept: string[] = [];
  for (let i = 0; i < runArgs.length; i++) {
    const arg = runArgs[i]!;
    if (RUN_MODE.has(arg)) continue;
    if (RUN_MODE_WITH_VALUE.has(arg.split('=')[0]!)) {
      if (!arg.includes('=')) i++;
      continue;
    }
    kept.push(unmaskText(arg, env));
  }
  return [...kept, ...(model ? ['--model', model] : []), ...extra];
}

/** `claude --resume <id> ...`, or with a question `claude -p --resume <id> ... --output-format text` (the question on stdin, as a run's prompt). */
export function handoffArgs(sessionId: string, session: string[], print: boolean): string[] {
  return print ? ['-p', '--resume', sessionId, ...session, '--output-format', 'text'] : ['--resume', sessionId, ...session];
}

/** Where Claude Code keeps a session: `<config>/projects/<cwd>/<id>.jsonl` (core/agent/claude-store.ts). */
export async function claudeSessionFile(env: NodeJS.ProcessEnv, cwd: string, sessionId: string): Promise<string> {
  return path.join(await claudeProjectDir(env, cwd), `${sessionId}.jsonl`);
}

/** Resolves the experiment, its slot, session and agent; changes nothing. */
export async function planHandoff(req: HandoffRequest): Promise<HandoffPlan> {
  const ws = req.workspace;
  await requireWorkspace(ws);
  const run = await findRun(ws, req.version, req.runId);
  const experiment = pickExperiment(run, req.choice);
  const dir = await experimentFolder(ws, experiment);
  const status = await readStatus(dir);
  if (!status || status.state === 'skipped') {
    throw new UsageError(`STP ${experiment.stp} of ${run.version} ${run.runId} never started (${status?.state ?? experiment.state}): there is no session to hand off.`);
  }
  const slot = await readSlot(ws, status.slot);
  if (!slot) throw new UsageError(`Slot ${status.slot} is not set up in ${ws}: run \`ptg setup --stp ${experiment.stp}\` first.`);
  // The binary the run used; one named by another machine's path may not be here.
  const agentCommand = req.agentCommand ?? ((await which(run.agent.command, req.env.PATH)) ? run.agent.command : req.defaultAgent);
  const agentPath = await findAgent(agentCommand, req.env);
  const session = sessionArgs(run.agent.args, experiment.model, req.extraArgs, req.env);
  const args = status.sessionId ? handoffArgs(status.sessionId, session, req.question !== undefined) : [];
  requireSandboxAsRoot(args, req.env, 'ptg handoff');
  const sandbox = await prepareSandbox(req.sandbox ?? DEFAULT_SANDBOX, { env: req.env, workspace: ws, agentPath });
  return {
    workspace: ws,
    version: run.version,
    runId: run.runId,
    stp: experiment.stp,
    slot: slot.slot,
    slotDir: slot.dir,
    dir,
    baseCommit: status.baseCommit,
    patch: path.join(dir, EXPERIMENT_FILES.patch),
    state: status.state,
    agentError: status.agentError,
    changedFiles: status.changedFiles?.length ?? 0,
    sessionId: status.sessionId,
    sessionFile: status.sessionId ? await claudeSessionFile(req.env, slot.dir, status.sessionId) : undefined,
    agentCommand,
    agentPath,
    args,
    model: experiment.model,
    sandbox,
    env: req.env,
    question: req.question,
    versionChanged: slot.versions.find((v) => v.version === run.version)?.hash !== run.versionHash,
  };
}

/**
 * Carries out a handoff, holding the slot's lock throughout: saves unsaved work in the slot (as a
 * run does), checks out the experiment's base commit, applies its changes.patch, then resumes the
 * session with only this version's commands and skills in the slot, as in the run. The files stay
 * when it ends; the other versions come back, however it ends. A session that is gone starts no agent.
 */
export async function handOff(plan: HandoffPlan, events: HandoffEvents = {}): Promise<HandoffResult> {
  const ws = plan.workspace;
  const release = await lockSlots(ws, [plan.slot], { command: 'handoff', version: plan.version, runId: plan.runId });
  try {
    // Read again under the lock: a run that ended a moment ago has just written it.
    const slot = (await readSlot(ws, plan.slot)) as SlotState;
    const restored = await restoreFiles(ws, slot, plan);
    events.onRestored?.(restored);
    if (!plan.sessionFile || !(await hasContent(plan.sessionFile))) return { ...restored, sessionGone: true };
    await parkOtherVersions(ws, slot, plan.version);
    try {
      return { ...restored, sessionGone: false, ...(await resume(plan, events)) };
    } finally {
      await restoreParked(ws, slot);
    }
  } finally {
    await release();
  }
}

async function hasContent(file: string): Promise<boolean> {
  return (await fs.stat(file).catch(() => undefined))?.size ? true : false;
}

/** The slot as the experiment's agent left it: its base commit with its changes.patch applied, unsaved work saved first. */
async function restoreFiles(ws: string, slot: SlotState, plan: HandoffPlan): Promise<{ savedPatch?: string }> {
  // Only now, under the lock: a running experiment has none yet, and its run's lock is the refusal to give.
  if (!(await fs.pathExists(plan.patch))) {
    throw new PtgError(`STP ${plan.stp} of ${plan.version} ${plan.runId} has no ${path.basename(plan.patch)} in ${plan.dir} (${plan.state}${plan.agentError ? `: ${plan.agentError.split('\n')[0]}` : ''}): there are no files to put back.`);
  }
  if (!(await hasOwnRepository(slot.dir))) throw new PtgError(`${slot.dir} is not a git checkout any more: run \`ptg setup --stp ${plan.stp}\`.`);
  // A ptg killed during an experiment left other versions parked.
  await restoreParked(ws, slot);
  if (!(await hasCommit(slot.dir, plan.baseCommit))) {
    await fetchFromMirror(slot.dir, paths.mirror(ws), plan.baseCommit).catch(() => undefined);
    if (!(await hasCommit(slot.dir, plan.baseCommit))) {
      throw new PtgError(`The experiment's base commit ${plan.baseCommit.slice(0, 10)} is in neither slot ${slot.slot} nor the workspace's mirror: \`ptg setup --ref ${plan.baseCommit}\` fetches it (and moves every slot to it).`);
    }
  }
  const { savedPatch } = await resetSlot(ws, slot);
  if (plan.baseCommit !== slot.baseCommit) await resetTo(slot.dir, plan.baseCommit);
  try {
    await applyPatch(slot.dir, plan.patch);
  } catch (error) {
    throw new PtgError(`${plan.patch} does not apply on ${plan.baseCommit.slice(0, 10)} in ${slot.dir}: ${gitReason(error)}`);
  }
  // The slot holds exactly what changes.patch records: the next run resets it without saving that
  // again, and saves whatever changes from here on (the resumed agent's work, or yours).
  const tree = await worktreeTree(slot.dir);
  await writeSlot(ws, { ...slot, lastExperiment: { tree, dir: plan.dir, commit: plan.baseCommit === slot.baseCommit ? undefined : plan.baseCommit } });
  return { savedPatch };
}

/** The resumed session: in the terminal, or one question with the answer kept. */
async function resume(plan: HandoffPlan, events: HandoffEvents): Promise<Pick<HandoffResult, 'exit' | 'answer' | 'stderr'>> {
  const view = await slotView(plan.sandbox, { slotDir: plan.slotDir, agent: true });
  try {
    const run = view ? view.wrap(plan.agentPath, plan.args) : { command: plan.agentPath, args: plan.args };
    const ended = await resumeIn({ ...run, cwd: plan.slotDir, env: plan.env }, plan, events);
    return view && ended.exit ? { ...ended, exit: unwrapExit(ended.exit) } : ended;
  } finally {
    await view?.cleanup();
  }
}

async function resumeIn(common: { command: string; args: string[]; cwd: string; env: NodeJS.ProcessEnv }, plan: HandoffPlan, events: HandoffEvents): Promise<Pick<HandoffResult, 'exit' | 'answer' | 'stderr'>> {
  if (plan.question === undefined) {
    const agent = startForegroundAgent(common);
    events.onStarted?.(agent);
    return { exit: await agent.exit };
  }
  // Files, not pipes, as for a run's agents (some Claude Code versions lose output written to a pipe).
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ptg-handoff-'));
  try {
    const answer = path.join(tmp, 'answer.txt');
    const stderr = path.join(tmp, 'stderr.txt');
    const agent = await startAgent({ ...common, input: plan.question, stdoutFile: answer, stderrFile: stderr });
    events.onStarted?.(agent);
    const exit = await agent.exit;
    return { exit, answer: await fs.readFile(answer, 'utf8'), stderr: await fs.readFile(stderr, 'utf8') };
  } finally {
    await fs.remove(tmp);
  }
}
