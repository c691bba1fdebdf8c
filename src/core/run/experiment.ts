import { StringDecoder } from 'node:string_decoder';
import path from 'node:path';
import fs from 'fs-extra';
import { copyMatching, writeFileAtomic } from '../../io/files.js';
import { changedPaths, diffWorktree, hasOwnRepository } from '../../io/git.js';
import { maskText, type Secret, StreamMasker } from '../../io/mask.js';
import { startAgent, type AgentExit, type AgentHandle } from '../../io/process/proc.js';
import { bwrapFailure, unwrapExit } from '../../io/process/sandbox.js';
import { type AgentFigures, StreamJsonParser, type Tokens, transientError } from '../../io/streamjson.js';
import { EXPERIMENT_FILES as FILES, statusLine } from '../workspace/experiment-folder.js';
import type { ExperimentState, ExperimentStatus, MaskedFile, SlurmPlace } from '../workspace/manifest.js';
import { statusFile } from '../workspace/manifest.js';
import { agentContext, listClaudeFiles } from '../agent/agent-context.js';
import { usageLimitOf } from './usage-limit.js';
import { keepCarry, placeCarry } from './carry.js';
import { CHECKS_DIR, type CheckSpec, type Limit, runChecks } from '../checks/checks.js';
import { maskEach, maskFolder } from '../workspace/masking.js';
import { listFiles, parkOtherVersions, restoreParked } from '../workspace/park.js';
import { type Sandbox, slotView } from '../agent/sandbox.js';
import { agentLeftovers, resetSlot } from '../workspace/slot.js';
import { readSlot, type SlotState, writeSlot } from '../workspace/workspace.js';

export interface ExperimentPlan {
  stp: string;
  stpFile: string;
  repeat?: number;
  /** The model asked for (--model), passed to the agent as `--model M`. */
  model?: string;
  slot: string;
  slotDir: string;
  /** `<slot>/<version>_experiment_<run-id>[_r<k>]` */
  dir: string;
  baseCommit: string;
  prompt: string;
  promptSha256: string;
}

export interface ExperimentContext {
  workspace: string;
  version: string;
  runId: string;
  agent: { command: string; args: string[] };
  env: NodeJS.ProcessEnv;
  /** Where the agent and its checks run (core/agent/sandbox.ts); none when unset. */
  sandbox?: Sandbox;
  timeoutMs?: number;
  /** Ends an agent that printed nothing for this long: `timed_out`, reason `idle`. */
  idleTimeoutMs?: number;
  /** The slash command the prompt invokes (an orchestrated version's): the agent must have loaded it. */
  command?: string;
  /** Values masked as `***NAME***` in everything the experiment keeps, the slot's files included. */
  secrets?: Secret[];
  /** Globs of the slot's files to keep in `artifacts/` once the agent has ended. */
  artifacts?: string[];
  /** Verdicts on what the agent wrote, run in the slot once it has ended; at most so many at once across the run. */
  checks: CheckSpec[];
  checkLimit?: Limit;
  /** Earlier attempts of this experiment that were run again (--retries): their cost and tokens count here too. */
  earlierAttempts?: NonNullable<ExperimentStatus['retries']>;
  /** Files carried from the previous experiment (`from`: a folder holding them under their repository paths). */
  carry?: { paths: string[]; from?: string };
  /** The Slurm task carrying the experiment out, for its status. */
  slurm?: SlurmPlace;
  signal: AbortSignal;
  onStarted?(pid: number | undefined): void;
  onProgress?(figures: AgentFigures): void;
  /** The agent has ended, `status` says how (its checks are still to come): its place among the run's agents is free. */
  onAgentEnded?(status: ExperimentStatus): void;
}

const TEST_FILE = /(^|\/)(test_[^/]*|[^/]*_test)\.py$/;

/** An agent that printed its result and has not exited after this long is ended (a known Claude Code hang). */
export const RESULT_GRACE_MS = 30_000;

/**
 * One experiment: reset the slot (saving unsaved work, removing an earlier agent's leftovers),
 * park the other versions, place the carried files, run the agent with its output going to
 * claude.jsonl and a transcript to claude.log, then mask secrets, keep the carried files, record
 * the changes, pyright's verdict and the artifacts, and put the other versions back.
 * Never throws: the agent's failures, and ptg's own on this slot, are the result.
 */
export async function runExperiment(exp: ExperimentPlan, ctx: ExperimentContext): Promise<ExperimentStatus> {
  const status = newStatus(exp, ctx);
  try {
    return await attempt(exp, ctx, status);
  } catch (error) {
    // ptg itself failed on this slot (a full disk, a broken checkout): a failed experiment, not a crashed run.
    status.state = 'failed';
    status.agentError = `ptg could not run this experiment: ${oneLineReason(error)}`;
    status.finishedAt ??= new Date().toISOString();
    await fs.ensureDir(exp.dir).catch(() => undefined);
    await writeFileAtomic(path.join(exp.dir, FILES.statusText), `${statusLine(status)}\n`).catch(() => undefined);
    await writeStatus(exp.dir, status, ctx.secrets).catch(() => undefined);
    return status;
  }
}

/** `ENOSPC: no space left on device, write` -> `no space left on device (…/claude.log)`: one line. */
function oneLineReason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  const text = String(e?.message ?? error).split('\n')[0]!;
  if (e?.code && e.syscall) {
    const cause = text.replace(new RegExp(`^${e.code}: `), '').replace(/, \w+( '.*')?$/, '');
    return `${cause}${e.path ? ` (${e.path})` : ''}`;
  }
  return text;
}

function newStatus(exp: ExperimentPlan, ctx: ExperimentContext): ExperimentStatus {
  const { stp, repeat, slot, baseCommit } = exp;
  return { format: 1, stp, version: ctx.version, runId: ctx.runId, repeat, requestedModel: exp.model, slot, baseCommit, state: 'running', sandbox: ctx.sandbox?.record, timeoutMs: ctx.timeoutMs, idleTimeoutMs: ctx.idleTimeoutMs, slurm: ctx.slurm };
}

async function attempt(exp: ExperimentPlan, ctx: ExperimentContext, status: ExperimentStatus): Promise<ExperimentStatus> {
  const slot = (await readSlot(ctx.workspace, exp.slot)) as SlotState;
  // Without its own .git, git would act on whatever repository holds the workspace.
  if (!(await hasOwnRepository(exp.slotDir))) throw new Error(`${exp.slotDir} is not a git checkout any more: run \`ptg setup\``);
  // The base commit's CLAUDE.md files are listed while the slot is reset: agentContext needs them next.
  listClaudeFiles(exp.slotDir, exp.baseCommit).catch(() => undefined);
  const reset = await resetSlot(ctx.workspace, slot);
  status.savedPatch = reset.savedPatch;
  if (reset.removed.length) status.removedBeforeStart = reset.removed;
  await fs.ensureDir(exp.dir);
  const file = (name: string) => path.join(exp.dir, name);
  await fs.writeFile(file(FILES.prompt), exp.prompt);

  await parkOtherVersions(ctx.workspace, slot, ctx.version);
  try {
    if (ctx.carry) status.carry = await placeCarry(exp.slotDir, exp.dir, ctx.carry.paths, ctx.carry.from);
    status.context = await agentContext(exp.slotDir, exp.baseCommit, ctx.env);
    await runAgent(exp, ctx, status);
    ctx.onAgentEnded?.(status);
    const inSlot = await maskSlot(exp.slotDir, slot, ctx.secrets ?? []);
    if (ctx.carry) await keepCarry(exp.slotDir, exp.dir, exp.baseCommit, ctx.carry.paths, status.carry!);
    await recordChanges(exp, ctx, slot, status);
    const artifacts = await copyMatching(exp.slotDir, ctx.artifacts ?? [], path.join(exp.dir, FILES.artifacts));
    if (artifacts.length) status.artifacts = artifacts;
    const masked = [...inSlot, ...(await maskFolder(exp.dir, ctx.secrets ?? []))];
    if (masked.length) status.masked = masked;
  } finally {
    await restoreParked(ctx.workspace, slot);
  }
  await writeFileAtomic(file(FILES.statusText), `${statusLine(status)}\n`);
  await writeStatus(exp.dir, status, ctx.secrets);
  return status;
}

async function writeStatus(dir: string, status: ExperimentStatus, secrets: Secret[] = []): Promise<void> {
  await writeFileAtomic(statusFile(dir), maskText(`${JSON.stringify(status, null, 2)}\n`, secrets));
}

/**
 * Masks the secrets in what the agent left in the slot, before git hashes any of it: its changed
 * and new files (so changes.patch and files/ hold the masked text) and its files in ignored paths.
 */
async function maskSlot(slotDir: string, slot: SlotState, secrets: Secret[]): Promise<MaskedFile[]> {
  if (secrets.length === 0) return [];
  const files = [...(await changedPaths(slotDir))];
  for (const entry of await agentLeftovers(slot)) {
    files.push(...(entry.endsWith('/') ? (await listFiles(path.join(slotDir, entry))).map((f) => `${entry}${f}`) : [entry]));
  }
  return maskEach(slotDir, files, secrets, 'slot');
}

/** Starts the agent, follows it to its end and fills in what it reported. */
async function runAgent(exp: ExperimentPlan, ctx: ExperimentContext, status: ExperimentStatus): Promise<void> {
  const started = Date.now();
  status.startedAt = new Date(started).toISOString();
  const { exit, figures, sandboxed } = await followAgent(exp, ctx, status);
  status.finishedAt = new Date().toISOString();
  status.durationMs = Date.now() - started;
  recordFigures(status, exit, figures, ctx.earlierAttempts);
  const limit = usageLimitOf(figures.result, figures.rateLimit?.status === 'rejected' ? figures.rateLimit.resetsAt : undefined);
  status.state = stateOf(exit, figures, Boolean(limit));
  if (status.state === 'usage_limited') status.usageLimit = limit;
  // bubblewrap could not make the view (a path it cannot bind): the agent never ran, and never unsandboxed.
  const refused = sandboxed && exit.exitCode !== 0 && !figures.sessionId && bwrapFailure(await headOf(path.join(exp.dir, FILES.stderr)));
  if (refused) Object.assign(status, { state: 'agent_error', agentError: `the sandbox did not start: ${refused}` });
  else if (exit.spawnError) status.agentError = exit.spawnError;
  else if (figures.result?.isError) status.agentError = figures.result.text ?? figures.result.subtype ?? 'error';
  const missing = ctx.command && figures.loaded?.commands && !figures.loaded.commands.includes(ctx.command);
  if (missing && status.state === 'succeeded') {
    status.state = 'agent_error';
    status.agentError = `the agent did not load /${ctx.command}: its init event lists no such command, so it never ran the version under test (does this Claude Code load project commands in -p mode?)`;
  }
}

/** The agent in its sandbox (if any), followed to its end: how it ended and what it reported. */
async function followAgent(exp: ExperimentPlan, ctx: ExperimentContext, status: ExperimentStatus): Promise<{ exit: AgentExit; figures: AgentFigures; sandboxed: boolean }> {
  const file = (name: string) => path.join(exp.dir, name);
  // Its own slot, its STP, the tools and its own session: nothing else of the machine.
  const view = ctx.sandbox && (await slotView(ctx.sandbox, { slotDir: exp.slotDir, readOnly: [exp.stpFile], agent: true }));
  const { command, args } = view ? view.wrap(ctx.agent.command, ctx.agent.args) : ctx.agent;
  const agent = await startAgent({ command, args, cwd: exp.slotDir, input: exp.prompt, inputFile: file(FILES.prompt), stdoutFile: file(FILES.jsonl), stderrFile: file(FILES.stderr), env: ctx.env, timeoutMs: ctx.timeoutMs, pidNamespace: Boolean(view) });
  status.pid = agent.pid;
  status.marker = agent.marker;
  const onAbort = () => agent.stop('interrupt');
  ctx.signal.addEventListener('abort', onAbort);
  if (ctx.signal.aborted) onAbort();
  const parser = new StreamJsonParser();
  try {
    await writeStatus(exp.dir, status, ctx.secrets);
    ctx.onStarted?.(agent.pid);
    const exit = await follow(agent, file(FILES.jsonl), file(FILES.log), parser, ctx);
    if (view?.refused.length) status.networkRefused = [...view.refused];
    return { exit: view ? unwrapExit(exit) : exit, figures: parser.figures, sandboxed: Boolean(view) };
  } catch (error) {
    // ptg failed while the agent runs (its log could not be written): the agent ends too.
    agent.stop('error', 1000);
    await agent.exit;
    throw error;
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await view?.cleanup();
  }
}

/** How the agent ended and what it reported, earlier attempts' cost and tokens added in. */
function recordFigures(status: ExperimentStatus, exit: AgentExit, figures: AgentFigures, earlierAttempts: ExperimentContext['earlierAttempts']): void {
  status.exitCode = exit.exitCode;
  status.signal = exit.signal;
  status.stopReason = exit.stoppedFor;
  status.model = figures.model;
  status.sessionId = figures.sessionId ?? figures.result?.sessionId;
  status.loaded = figures.loaded;
  status.turns = figures.turns;
  status.tokens = figures.tokens;
  status.costUsd = figures.costUsd;
  status.apiErrorStatus = figures.result?.apiErrorStatus;
  // Claude Code's own --max-budget-usd (--max-cost-per-experiment) ended the session.
  if (figures.result?.subtype === 'error_max_budget_usd') status.budget = 'experiment';
  if (!earlierAttempts?.length) return;
  status.retries = earlierAttempts;
  for (const earlier of earlierAttempts) {
    if (earlier.costUsd !== undefined) status.costUsd = (status.costUsd ?? 0) + earlier.costUsd;
    if (earlier.tokens) for (const k of Object.keys(earlier.tokens) as (keyof Tokens)[]) status.tokens[k] += earlier.tokens[k];
  }
}

async function headOf(file: string): Promise<string> {
  const handle = await fs.promises.open(file, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0);
    return buffer.toString('utf8', 0, bytesRead);
  } finally {
    await handle.close();
  }
}

function stateOf(exit: AgentExit, figures: AgentFigures, usageLimit: boolean): ExperimentState {
  if (exit.stoppedFor === 'interrupt') return 'interrupted';
  if (exit.stoppedFor === 'timeout' || exit.stoppedFor === 'idle') return 'timed_out';
  // Not a failure: nothing gets through until the limit resets (core/run/usage-limit.ts).
  if (usageLimit) return 'usage_limited';
  // Ended by ptg after it printed its result and hung: the result stands.
  if (exit.stoppedFor === 'after_result') return figures.result?.isError ? 'agent_error' : 'succeeded';
  if (exit.spawnError || exit.exitCode !== 0) return 'failed';
  // Claude Code says "subtype": "success" even after an API error: only is_error tells.
  if (figures.result?.isError) return 'agent_error';
  return 'succeeded';
}

/**
 * Follows the agent's output file while it runs: parses each new chunk and appends the
 * transcript to the log. Reads 64 KB at a time: each chunk's strings stay below V8's large-object
 * size and die young (1 MB chunks piled up until a full GC: 255 MB peak with 7 agents × 200 MB).
 * Ends an agent that printed nothing for `idleTimeoutMs`, or that hangs after its result.
 */
async function follow(agent: AgentHandle, jsonl: string, log: string, parser: StreamJsonParser, ctx: ExperimentContext): Promise<AgentExit> {
  let done: AgentExit | undefined;
  const exit = agent.exit.then((e) => (done = e));
  const out = fs.createWriteStream(log);
  let failure: Error | undefined;
  out.on('error', (error) => (failure ??= error));
  const decoder = new StringDecoder('utf8');
  // The transcript and the figures are made from masked text: claude.log never holds a secret.
  const masker = new StreamMasker(ctx.secrets ?? []);
  const buffer = Buffer.alloc(1 << 16);
  let position = 0;
  let lastOutput = Date.now();
  let resultAt: number | undefined;
  const write = (text: string) =>
    text && !failure && !out.write(text) ? new Promise<void>((resolve) => out.once('drain', () => resolve()).once('error', () => resolve())) : Promise.resolve();
  let handle: fs.promises.FileHandle | undefined;
  try {
    for (;;) {
      const finished = done !== undefined;
      handle ??= await fs.promises.open(jsonl, 'r').catch(() => undefined);
      let read = 0;
      if (handle) {
        do {
          ({ bytesRead: read } = await handle.read(buffer, 0, buffer.length, position));
          position += read;
          if (read > 0) {
            lastOutput = Date.now();
            await write(parser.feed(masker.push(decoder.write(buffer.subarray(0, read)))));
          }
        } while (read === buffer.length);
      }
      if (failure) throw failure;
      if (finished) break;
      ctx.onProgress?.(parser.figures);
      const now = Date.now();
      if (parser.figures.result && resultAt === undefined) resultAt = now;
      if (resultAt !== undefined && now - resultAt >= RESULT_GRACE_MS) agent.stop('after_result');
      if (ctx.idleTimeoutMs && now - lastOutput >= ctx.idleTimeoutMs) agent.stop('idle');
      await Promise.race([exit, sleep(200)]);
    }
    await write(parser.feed(masker.push(decoder.end()) + masker.end()) + parser.end());
    ctx.onProgress?.(parser.figures);
  } finally {
    await handle?.close();
    await new Promise<void>((resolve) => (failure ? (out.destroy(), resolve()) : out.end(resolve)));
  }
  if (failure) throw failure;
  return exit;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** changes.patch, changed-files.txt, copies of the changed files, pyright's verdict, leftovers in ignored paths. */
async function recordChanges(exp: ExperimentPlan, ctx: ExperimentContext, slot: SlotState, status: ExperimentStatus): Promise<void> {
  const file = (name: string) => path.join(exp.dir, name);
  const { files, tree, ignored: ignoredNow } = await diffWorktree(exp.slotDir, exp.baseCommit, file(FILES.patch));
  status.changedFiles = files;
  await fs.writeFile(file(FILES.changed), files.map((f) => `${f.status}\t${f.path}\n`).join(''));
  const present = files.filter((f) => f.status !== 'D').map((f) => f.path);
  for (const rel of present) {
    await fs.copy(path.join(exp.slotDir, rel), path.join(file(FILES.files), rel)).catch(() => undefined);
  }
  status.testFiles = present.filter((p) => TEST_FILE.test(p));
  const ignored = await agentLeftovers(slot, ignoredNow);
  if (ignored.length) status.ignoredFiles = ignored;
  // The slot now holds exactly what changes.patch records: the next reset need not save it again.
  const fresh = (await readSlot(ctx.workspace, exp.slot)) ?? slot;
  await writeSlot(ctx.workspace, { ...fresh, lastExperiment: { tree, dir: exp.dir } });

  if (status.state === 'interrupted') return;
  // The checks run what the agent wrote (pytest imports it): in the same view as the agent, less its session.
  const view = ctx.sandbox && (await slotView(ctx.sandbox, { slotDir: exp.slotDir, python: slot.python.python }));
  const target = { wrap: view?.wrap, slotDir: exp.slotDir, pythonFiles: present.filter((p) => p.endsWith('.py')), testFiles: status.testFiles, python: slot.python.python, env: ctx.env, outDir: file(CHECKS_DIR), signal: ctx.signal };
  try {
    status.checks = await runChecks(ctx.checks, target, ctx.checkLimit);
  } finally {
    await view?.cleanup();
  }
  await keepPyrightField(exp.dir, status);
}

/** Today's `pyright` field and pyright.json, for readers older than checks: from the pyright check's own output. */
async function keepPyrightField(dir: string, status: ExperimentStatus): Promise<void> {
  const verdict = await fs.readJson(path.join(dir, CHECKS_DIR, 'pyright.json')).catch(() => undefined);
  if (!verdict) return;
  await fs.copy(path.join(dir, CHECKS_DIR, 'pyright.json'), path.join(dir, FILES.pyright));
  status.pyright = { files: verdict.files, errors: verdict.errors, warnings: verdict.warnings, failure: verdict.failure };
}

/** An experiment never started because the run's --max-cost was spent: its folder says so. */
export async function skipExperiment(exp: ExperimentPlan, ctx: Pick<ExperimentContext, 'version' | 'runId' | 'timeoutMs' | 'idleTimeoutMs'>): Promise<ExperimentStatus> {
  const status: ExperimentStatus = { ...newStatus(exp, ctx as ExperimentContext), state: 'skipped', budget: 'run', finishedAt: new Date().toISOString() };
  await fs.ensureDir(exp.dir);
  await writeFileAtomic(path.join(exp.dir, FILES.statusText), `${statusLine(status)}\n`);
  await writeStatus(exp.dir, status);
  return status;
}

/**
 * A start the model API refused for load (429, 529, overloaded) before the agent changed
 * anything: not a failure, the experiment goes back in the queue (core/run/concurrency.ts).
 */
export function refusedStart(status: ExperimentStatus): string | undefined {
  const reason = retryReason(status);
  if (!reason || !/429|529|overloaded/.test(reason)) return undefined;
  return (status.changedFiles?.length ?? 0) === 0 && (status.ignoredFiles?.length ?? 0) === 0 ? reason : undefined;
}

/**
 * Why an experiment that ended so is worth running again: a transient API error (429, 5xx, 529,
 * overloaded). Never a timeout, an interrupt, a plain failure or a success.
 */
export function retryReason(status: ExperimentStatus): string | undefined {
  if ((status.state !== 'agent_error' && status.state !== 'failed') || status.stopReason) return undefined;
  return transientError({ isError: true, apiErrorStatus: status.apiErrorStatus, text: status.agentError });
}
