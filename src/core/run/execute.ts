// Carrying out a planned run (core/run/run.ts plans it): the slots locked, experiments in parallel
// up to the concurrency and one at a time per slot (a sequential run's chains side by side), each
// with its retries and the run's budget, the manifest kept current however it ends.
import { setMaxListeners } from 'node:events';
import path from 'node:path';
import fs from 'fs-extra';
import pLimit from 'p-limit';
import { prepareAgentStart } from '../../io/process/proc.js';
import type { AgentFigures } from '../../io/streamjson.js';
import { checkSpecs, defaultCheckConcurrency } from '../checks/checks.js';
import { commandName } from '../setup/install.js';
import { passedOf } from '../workspace/check-results.js';
import { lockSlots } from '../workspace/lock.js';
import { type ExperimentStatus, type ManifestExperiment, type RunManifest, runDir, sortExperiments, type UsageLimitEvent, writeManifest } from '../workspace/manifest.js';
import { experimentLabel } from '../workspace/experiment-folder.js';
import { mergeExperiments } from '../workspace/shared-manifest.js';
import { CARRY_OUT } from './carry.js';
import { type ExperimentContext, type ExperimentPlan, refusedStart, retryReason, runExperiment, skipExperiment } from './experiment.js';
import { AdaptiveLimit, type ConcurrencyChange, type Place } from './concurrency.js';
import { chainKey, MAX_WAIT_MS, type RunPlan, type RunRequest } from './run.js';

export interface RunEvents {
  onExperimentStarted?(exp: ExperimentPlan, pid: number | undefined): void;
  /** A transient API error: the experiment starts again as attempt `attempt`. */
  onExperimentRetry?(exp: ExperimentPlan, attempt: number, reason: string): void;
  /** A start refused for load (`why` load) or by the usage limit: the experiment is queued again. */
  onExperimentRequeued?(exp: ExperimentPlan, reason: string, why: 'load' | 'usage limit'): void;
  /** A usage limit reached: no agent starts until `until`, or (`stopped`) none any more. */
  onUsageLimit?(exp: ExperimentPlan, limit: UsageLimitEvent): void;
  onConcurrencyChanged?(change: ConcurrencyChange): void;
  onExperimentProgress?(exp: ExperimentPlan, figures: AgentFigures): void;
  onExperimentFinished?(exp: ExperimentPlan, status: ExperimentStatus): void;
}

export interface RunResult {
  manifest: RunManifest;
  statuses: ExperimentStatus[];
  interrupted: boolean;
  /** The usage limit the run stopped at: its experiments left are resumable. */
  usageLimit?: UsageLimitEvent;
}

/**
 * Carries out a plan: experiments in parallel up to the concurrency, one at a time per slot,
 * the manifest kept current. An aborted `signal` stops launching and ends every agent.
 */
export async function executeRun(plan: RunPlan, req: RunRequest, signal: AbortSignal, events: RunEvents = {}): Promise<RunResult> {
  const { manifest } = plan;
  // Each running experiment listens for the abort: more than Node's default of 10 is expected.
  setMaxListeners(manifest.concurrency + 10, signal);
  const release = await lockRun(plan, req.workspace);
  try {
    return await new Execution(plan, req, signal, events).run();
  } finally {
    await release();
  }
}

async function lockRun(plan: RunPlan, ws: string): Promise<() => Promise<void>> {
  const { manifest } = plan;
  try {
    return await lockSlots(ws, [...new Set(plan.experiments.map((e) => e.slot))], { version: manifest.version, runId: manifest.runId });
  } catch (error) {
    // A refused run gives its id back: `--run-id X` stays free, and `--resume X` finds no half-run.
    if (plan.claimed) await fs.rmdir(runDir(ws, manifest.version, manifest.runId)).catch(() => undefined);
    throw error;
  }
}

/** One run being carried out: what its experiments share (the manifest, the budget, the places). */
class Execution {
  private readonly manifest: RunManifest;
  private readonly ws: string;
  private readonly statuses: ExperimentStatus[] = [];
  /** The cost running experiments reported so far, by folder. */
  private readonly reported = new Map<string, number>();
  private readonly agentPlaces: AdaptiveLimit;
  /** Checks have a limit of their own: seven pyrights at once would fight seven agents for the cores. */
  private readonly checkLimit: ReturnType<typeof pLimit>;
  private readonly up = new Set<string>();
  private readonly mine: Set<string>;
  /** The usage limit that stopped the run starting agents (its reset further than --max-wait). */
  private usageStop?: UsageLimitEvent;
  private saveError: unknown;
  private saving = Promise.resolve();

  constructor(
    private readonly plan: RunPlan,
    private readonly req: RunRequest,
    private readonly signal: AbortSignal,
    private readonly events: RunEvents,
  ) {
    this.manifest = plan.manifest;
    this.ws = req.workspace;
    this.agentPlaces = new AdaptiveLimit(this.manifest.concurrency, this.manifest.startGapMs ?? 0, (change) => {
      this.manifest.concurrencyChanges = [...(this.manifest.concurrencyChanges ?? []), change];
      void this.save();
      this.events.onConcurrencyChanged?.(change);
    });
    this.mine = new Set(plan.experiments.map((e) => e.dir));
    // Ctrl-C ends a wait for a usage limit's reset too.
    signal.addEventListener('abort', () => this.agentPlaces.close(), { once: true });
    this.checkLimit = pLimit(req.checkConcurrency ?? defaultCheckConcurrency());
  }

  async run(): Promise<RunResult> {
    const { manifest, plan, signal } = this;
    for (const dir of plan.retried) await keepAttempt(dir);
    if (plan.claimed && manifest.sequential?.carryFrom) await stageCarryFrom(manifest.sequential, path.join(this.runFolder(), CARRY_FROM));
    await this.save();
    prepareAgentStart();
    if (manifest.sequential) await this.chains();
    else await this.slots();
    manifest.state = signal.aborted ? 'interrupted' : this.usageStop ? 'usage_limited' : 'finished';
    manifest.finishedAt = new Date().toISOString();
    manifest.agent.version = await plan.agentVersion();
    await this.save();
    if (this.saveError) throw this.saveError;
    return { manifest, statuses: sortExperiments(this.statuses), interrupted: signal.aborted, usageLimit: this.usageStop };
  }

  private runFolder(): string {
    return runDir(this.ws, this.manifest.version, this.manifest.runId);
  }

  /**
   * A manifest that cannot be written (a full disk) must not tear the run down: its agents
   * finish and their folders are complete. The run then ends with the error.
   */
  private save(): Promise<void> {
    // A Slurm task shares the run's manifest with the other tasks: it writes only its own experiments.
    const write = this.req.slurmTask ? () => mergeExperiments(this.ws, this.manifest, this.mine) : () => writeManifest(this.ws, this.manifest);
    return (this.saving = this.saving.then(write).catch((error) => {
      this.saveError ??= error;
    }));
  }

  /** The run's cost so far: what finished experiments recorded, and what running ones reported. */
  private spent(): number {
    const finished = this.manifest.experiments.reduce((sum, x) => sum + (x.state === 'running' ? 0 : (x.costUsd ?? 0)), 0);
    return finished + [...this.reported.values()].reduce((a, b) => a + b, 0);
  }

  private entry(exp: ExperimentPlan): ManifestExperiment {
    return this.manifest.experiments.find((e) => e.dir === exp.dir)!;
  }

  /** Every slot works through its experiments, the slots side by side. */
  private async slots(): Promise<void> {
    const bySlot = new Map<string, ExperimentPlan[]>();
    for (const exp of this.plan.experiments) bySlot.set(exp.slot, [...(bySlot.get(exp.slot) ?? []), exp]);
    await Promise.all([...bySlot.values()].map(async (list) => {
      for (const exp of list) await this.one(exp);
    }));
  }

  /**
   * A chain: STP order, one at a time, each waiting for what the one before it left. The chains
   * (one per model and repeat) go side by side, taking turns at each slot: the second starts
   * STP 1 when the first moves on to STP 2.
   */
  private async chains(): Promise<void> {
    const chains = new Map<string, ExperimentPlan[]>();
    for (const exp of sortExperiments(this.plan.experiments)) chains.set(chainKey(exp), [...(chains.get(chainKey(exp)) ?? []), exp]);
    const turn = turns();
    await Promise.all([...chains.keys()].sort().map(async (key) => {
      for (const exp of chains.get(key)!) await turn(exp.slot, () => this.one(exp));
    }));
    await keepFinalCarry(this.manifest, this.runFolder());
  }

  /** One experiment, holding a place among the agents while its agent runs. */
  private async one(exp: ExperimentPlan): Promise<void> {
    let place = await this.agentPlaces.take();
    try {
      await this.attemptAll(exp, () => place, async () => {
        place.leave();
        place = await this.agentPlaces.take();
      });
    } finally {
      place.leave();
    }
  }

  /**
   * An experiment and its retries; `place()` is its agent place (left when the agent ends),
   * `again` takes one back: at the end of the queue, for a retry or a start refused for load.
   */
  private async attemptAll(exp: ExperimentPlan, place: () => Place, again: () => Promise<void>): Promise<void> {
    const e = this.entry(exp);
    if (this.signal.aborted) {
      e.state = 'interrupted';
      return;
    }
    if (this.usageStop) {
      e.state = 'usage_limited';
      return;
    }
    if (this.req.maxCostUsd !== undefined && this.spent() >= this.req.maxCostUsd) return this.skip(exp, e);
    Object.assign(e, { state: 'running', attempts: e.attempts + 1, startedAt: new Date().toISOString(), finishedAt: undefined });
    const earlierAttempts: NonNullable<ExperimentStatus['retries']> = [];
    let status: ExperimentStatus;
    for (;;) {
      const { generation, alone } = place();
      status = await runExperiment(exp, this.context(exp, e, earlierAttempts, () => place().leave()));
      if (this.signal.aborted) break;
      // The usage limit: run again once it resets (the wait is set as the agent ended, see usageLimited).
      if (status.state === 'usage_limited' && !this.usageStop) {
        earlierAttempts.push({ attempt: earlierAttempts.length + 1, reason: status.usageLimit!.message, usageLimit: true, ...ownFigures(status, earlierAttempts) });
        this.events.onExperimentRequeued?.(exp, 'usage limit', 'usage limit');
        await again();
        if (this.usageStop || this.signal.aborted) break;
        await keepAttempt(exp.dir);
        e.attempts += 1;
        continue;
      }
      const refused = refusedStart(status);
      const refusals = earlierAttempts.filter((a) => a.rateLimited).length;
      // Refused among others: not a failure, nor one of --retries; fewer agents at once, and this
      // one queued again. Refused while it ran alone, fewer cannot help: an error as any.
      if (refused && !alone && refusals < MAX_REFUSED_STARTS) {
        this.agentPlaces.rateLimited(generation, `${refused} at STP ${exp.stp}`);
        earlierAttempts.push({ attempt: earlierAttempts.length + 1, reason: refused, rateLimited: true, ...ownFigures(status, earlierAttempts) });
        this.events.onExperimentRequeued?.(exp, refused, 'load');
        await again();
        await keepAttempt(exp.dir);
        e.attempts += 1;
        continue;
      }
      if (!refused) this.agentPlaces.succeeded();
      const reason = retryReason(status);
      if (!reason || earlierAttempts.filter((a) => !a.rateLimited).length >= (this.req.retries ?? 0)) break;
      // A transient API error: the same experiment again, from a clean slot, its files kept in attempt-<k>/.
      earlierAttempts.push({ attempt: earlierAttempts.length + 1, reason, ...ownFigures(status, earlierAttempts) });
      this.events.onExperimentRetry?.(exp, earlierAttempts.length + 1, reason);
      if (!(await backOff(earlierAttempts.length, this.signal))) break;
      await again();
      await keepAttempt(exp.dir);
      e.attempts += 1;
    }
    await this.finished(exp, e, status);
  }

  /** Over the run's budget: the experiment is skipped, and recorded so. */
  private async skip(exp: ExperimentPlan, e: ManifestExperiment): Promise<void> {
    const { manifest, req } = this;
    const skipped = await skipExperiment(exp, { version: manifest.version, runId: manifest.runId, timeoutMs: req.timeoutMs, idleTimeoutMs: req.idleTimeoutMs });
    Object.assign(e, { state: 'skipped', finishedAt: skipped.finishedAt });
    this.statuses.push(skipped);
    await this.save();
    this.events.onExperimentFinished?.(exp, skipped);
  }

  /** What one attempt of an experiment runs with. */
  private context(exp: ExperimentPlan, e: ManifestExperiment, earlierAttempts: NonNullable<ExperimentStatus['retries']>, agentEnded: () => void): ExperimentContext {
    const { manifest, plan, req } = this;
    return {
      workspace: this.ws,
      version: manifest.version,
      runId: manifest.runId,
      agent: { command: plan.agentPath, args: exp.model ? [...manifest.agent.args, '--model', exp.model] : manifest.agent.args },
      env: req.env,
      sandbox: plan.sandbox,
      timeoutMs: req.timeoutMs,
      idleTimeoutMs: req.idleTimeoutMs,
      secrets: req.secrets,
      artifacts: req.artifacts,
      checks: req.checks ?? checkSpecs(),
      checkLimit: this.checkLimit,
      carry: manifest.sequential && { paths: manifest.sequential.carry, from: carrySource(manifest, e, this.runFolder()) },
      command: req.version.kind === 'orchestrated' ? commandName(req.version) : undefined,
      slurm: req.slurmTask,
      signal: this.signal,
      onStarted: (pid) => {
        e.pid = pid;
        void this.save();
        this.events.onExperimentStarted?.(exp, pid);
      },
      onProgress: (figures) => {
        if (figures.sessionId) this.upAndRunning(exp);
        this.reported.set(exp.dir, figures.costUsd ?? 0);
        this.events.onExperimentProgress?.(exp, figures);
      },
      earlierAttempts: earlierAttempts.length ? [...earlierAttempts] : undefined,
      onAgentEnded: (status) => {
        this.upAndRunning(exp);
        // Before its place is free: the next agent must not start into the limit.
        if (status.usageLimit) this.usageLimited(exp, status.usageLimit, earlierAttempts.filter((a) => a.usageLimit).length);
        agentEnded();
      },
    };
  }

  /**
   * A usage limit reached: no agent starts until it resets (a reset already past, the limit
   * lifting late: a minute on). A reset further than --max-wait, one not given, or the same
   * experiment limited again and again stops the run starting agents: the running ones end on
   * their own, and `--resume` runs the rest.
   */
  private usageLimited(exp: ExperimentPlan, limit: NonNullable<ExperimentStatus['usageLimit']>, earlier: number): void {
    if (this.usageStop || this.signal.aborted) return;
    const event: UsageLimitEvent = { at: new Date().toISOString(), stp: experimentLabel(exp.stp, exp.model, exp.repeat), ...limit };
    const now = Date.now();
    const reset = limit.resetsAt ? Date.parse(limit.resetsAt) : NaN;
    const until = reset > now ? reset + RESET_MARGIN_MS : now + LATE_RESET_WAIT_MS;
    if (Number.isNaN(reset) || until - now > (this.req.maxWaitMs ?? MAX_WAIT_MS) || earlier >= MAX_USAGE_LIMITS) {
      this.usageStop = { ...event, stopped: true };
      this.agentPlaces.close();
      this.recordUsageLimit(exp, this.usageStop);
    } else if (this.agentPlaces.pauseUntil(until)) this.recordUsageLimit(exp, { ...event, until: new Date(until).toISOString() });
  }

  private recordUsageLimit(exp: ExperimentPlan, event: UsageLimitEvent): void {
    this.manifest.usageLimits = [...(this.manifest.usageLimits ?? []), event];
    void this.save();
    this.events.onUsageLimit?.(exp, event);
  }

  /**
   * An agent of the first wave is past its start-up (its session began, or it ended): once all of
   * them are, there is CPU to spare for the agent's --version (a process as heavy as an agent's
   * start: asked while the first wave starts, it slowed every agent of it).
   */
  private upAndRunning(exp: ExperimentPlan): void {
    if (this.up.size < this.manifest.concurrency && this.up.add(exp.dir).size === this.manifest.concurrency) this.recordVersion();
  }

  private recordVersion(): void {
    void this.plan.agentVersion().then((version) => {
      this.manifest.agent.version = version;
      void this.save();
    });
  }

  /** The experiment's last attempt, into the manifest. */
  private async finished(exp: ExperimentPlan, e: ManifestExperiment, status: ExperimentStatus): Promise<void> {
    this.reported.delete(exp.dir);
    Object.assign(e, {
      state: status.state,
      finishedAt: status.finishedAt,
      durationMs: status.durationMs,
      exitCode: status.exitCode,
      turns: status.turns,
      costUsd: status.costUsd,
      carried: status.carry?.left,
      reportedModel: status.model,
      checks: status.checks && passedOf(status.checks),
      pid: undefined,
    });
    if (!this.manifest.model && !this.manifest.models && status.model) this.manifest.model = status.model;
    this.statuses.push(status);
    await this.save();
    this.events.onExperimentFinished?.(exp, status);
  }
}

/** One experiment at a time per slot, in the order they ask: `turn(slot, fn)` runs fn once the slot is free. */
function turns(): <T>(slot: string, fn: () => Promise<T>) => Promise<T> {
  const last = new Map<string, Promise<unknown>>();
  return (slot, fn) => {
    const mine = (last.get(slot) ?? Promise.resolve()).then(fn);
    last.set(slot, mine.catch(() => undefined));
    return mine;
  };
}

/** An attempt's own cost and tokens: its status counts the earlier attempts' too. */
function ownFigures(status: ExperimentStatus, earlier: NonNullable<ExperimentStatus['retries']>): { costUsd?: number; tokens?: ExperimentStatus['tokens'] } {
  const costUsd = status.costUsd === undefined ? undefined : Math.round((status.costUsd - earlier.reduce((sum, a) => sum + (a.costUsd ?? 0), 0)) * 1e9) / 1e9;
  const tokens = status.tokens && { ...status.tokens };
  for (const a of earlier) if (tokens && a.tokens) for (const k of Object.keys(tokens) as (keyof typeof tokens)[]) tokens[k] -= a.tokens[k];
  return { costUsd, tokens };
}

/** Waits 1 s, 2 s, 4 s… (at most 60 s), each ±50%, so that retries do not arrive together; false when interrupted. */
function backOff(retry: number, signal: AbortSignal): Promise<boolean> {
  const ms = Math.min(60_000, 1000 * 2 ** (retry - 1)) * (0.5 + Math.random());
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', onAbort);
  });
}

/** Past its reset, a usage limit is given this long more: the reset is to the second, or the minute. */
const RESET_MARGIN_MS = 1000;
/** A limit still reached after the reset it named is tried again this much later. */
const LATE_RESET_WAIT_MS = 60_000;
/** Usage limits one experiment meets before the run stops: a limit that never lifts must not loop. */
const MAX_USAGE_LIMITS = 5;
/** Starts of one experiment refused for load before it is an error as any (the limit rose again meanwhile). */
const MAX_REFUSED_STARTS = 10;
const FINISHED = new Set(['succeeded', 'failed', 'agent_error', 'timed_out']);
const CARRY_FROM = 'carry-from';

/** The experiments of one chain (one model, one repeat) in order. */
function chainOf(manifest: RunManifest, repeat?: number, model?: string) {
  return sortExperiments(manifest.experiments.filter((e) => e.repeat === repeat && e.model === model));
}

/**
 * Where an experiment's carried files come from: the `carry/out/` of the last experiment before
 * it in its chain that ran to its end (failed ones too: they pass on what they left), else what
 * --carry-from gave, else nothing. A resumed chain so continues from its last finished step.
 */
function carrySource(manifest: RunManifest, e: ManifestExperiment, run: string): string | undefined {
  const chain = chainOf(manifest, e.repeat, e.model);
  const before = chain.slice(0, chain.indexOf(e)).reverse().find((x) => FINISHED.has(x.state));
  if (before) return path.join(before.dir, CARRY_OUT);
  return manifest.sequential?.carryFrom ? path.join(run, CARRY_FROM) : undefined;
}

/** Copies --carry-from into the run's folder, as the carried paths: resuming needs it still. */
async function stageCarryFrom(sequential: NonNullable<RunManifest['sequential']>, dest: string): Promise<void> {
  const from = sequential.carryFrom!;
  if ((await fs.stat(from)).isDirectory()) await fs.copy(from, dest);
  else await fs.copy(from, path.join(dest, sequential.carry[0]!));
}

/** The run keeps each chain's last carried files beside its manifest: `carry/` (`carry/<model>/r<k>/` with --model and --repeat). */
async function keepFinalCarry(manifest: RunManifest, run: string): Promise<void> {
  const chains = new Map(manifest.experiments.map((e) => [`${e.model}/${e.repeat}`, e]));
  for (const { repeat, model } of chains.values()) {
    const last = chainOf(manifest, repeat, model).reverse().find((x) => FINISHED.has(x.state));
    const dest = path.join(run, 'carry', model ? model.replace(/[^\w.-]/g, '_') : '', repeat ? `r${repeat}` : '');
    await fs.remove(dest);
    if (last && (await fs.pathExists(path.join(last.dir, CARRY_OUT)))) await fs.copy(path.join(last.dir, CARRY_OUT), dest);
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
