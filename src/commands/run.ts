import { chooseAgent } from '../core/agent/agent.js';
import { parseDuration } from '../core/root/duration.js';
import { experimentLabel, statusLine } from '../core/workspace/experiment-folder.js';
import { agentEnv, chainSettings, checksOf, modelsOf, requireEnv, runSecrets, versionSettings } from '../core/run/settings.js';
import { findVersion, parseIdList, parseShard, selectStps, shardOf, type Stp, type Version } from '../core/root/root.js';
import { executeRun, type RunResult } from '../core/run/execute.js';
import { slurmPlaceFromEnv } from '../core/run/slurm.js';
import { readManifest } from '../core/workspace/manifest.js';
import { dryRunOf, MAX_WAIT_MS, planRun, type RunPlan, type RunRequest } from '../core/run/run.js';
import { sandboxSettings } from '../core/agent/sandbox.js';
import { EXIT, exitForSignal, UsageError } from '../errors.js';
import { LiveView } from '../render/live.js';
import { dryRunLines, finishedLine, interruptLine, warningLine, liveLines, type LiveRow, summaryLines, usageLimitLine, waitingLine } from '../render/run.js';
import { type Context, type GlobalFlags, loadContext, printJson } from './context.js';

export interface RunFlags extends GlobalFlags {
  args: string[];
  stp?: string;
  concurrency?: string;
  startGap?: string;
  maxWait?: string;
  timeout?: string;
  idleTimeout?: string;
  agent?: string;
  agentArg?: string[];
  env?: string[];
  artifact?: string[];
  model?: string[];
  dryRun?: boolean;
  retries?: string;
  checkConcurrency?: string;
  maxCost?: string;
  maxCostPerExperiment?: string;
  sequential?: boolean;
  carry?: string[];
  carryFrom?: string;
  resume?: string;
  runId?: string;
  repeat?: string;
  shard?: string;
  shardFromEnv?: string;
  sandbox?: string;
  sandboxRo?: string[];
  sandboxRw?: string[];
  network?: string;
  executor?: string;
  shards?: string;
  sbatchArg?: string[];
  /** false with --no-wait. */
  wait?: boolean;
  slurmTask?: boolean;
  signal: AbortSignal;
  ptgVersion: string;
}

/** --start-gap, --max-wait (or their config): a duration, or 0. */
function durationOrZero(value: string | number | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  return value === 0 || (typeof value === 'string' && /^0+(\.0+)?\s*(ms|s|m|h)?$/.test(value.trim())) ? 0 : parseDuration(value, what);
}

function usd(value: string, flag: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new UsageError(`${flag} needs an amount in USD above 0, like ${flag} 5 or ${flag} 0.50, not "${value}".`);
  return n;
}

/** Claude Code's own limit per session (print mode, 2.0.28 and later). */
function perExperimentBudget(flag: string | undefined, config: number | undefined): string[] {
  const amount = flag === undefined ? config : usd(flag, '--max-cost-per-experiment');
  return amount === undefined ? [] : ['--max-budget-usd', String(amount)];
}

export function wholeNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} needs a whole number (0 or more), not "${value}".`);
  return n;
}

export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} needs a whole number of at least 1, not "${value}".`);
  return n;
}

export async function runCommand(flags: RunFlags): Promise<number> {
  const ctx = await loadContext(flags);
  const version = findVersion(ctx.root, flags.args[0]!);
  const shard = shardOf(flags);
  const stps = selectStps(ctx.root.stps, parseIdList(flags.stp), shard ? parseShard(shard) : undefined);
  if (stps.length === 0 && shard) {
    ctx.print(`Shard ${shard} has no STPs (${ctx.root.stps.length} STPs in all): nothing to run.`);
    return EXIT.ok;
  }
  const req = await requestOf(flags, ctx, version, stps, shard);
  const slurm = (await executorOf(flags, ctx, version)) === 'slurm';
  const plan = await planRun(req);
  if (plan.sandbox.warning) process.stderr.write(`${warningLine(plan.sandbox.warning)}\n`);
  if (flags.dryRun) {
    const data = dryRunOf(plan, req);
    if (flags.json) printJson(data);
    for (const line of dryRunLines(data)) ctx.result(line);
    if (slurm) for (const line of (await import('./slurm.js')).slurmDryRunLines(plan, req, flags, ctx)) ctx.result(line);
    return EXIT.ok;
  }
  // Slurm's side (and the collect it ends with) loads only when used: a local run starts its agents sooner.
  if (slurm) return (await import('./slurm.js')).runOnSlurm(plan, req, flags, ctx);
  const result = await runWithProgress(plan, req, flags, ctx);
  // A Slurm task speaks of its own experiments: the other tasks report theirs.
  if (flags.slurmTask) result.manifest.experiments = result.manifest.experiments.filter((e) => plan.experiments.some((x) => x.dir === e.dir));
  const root = flags.root ? ` --root ${flags.root}` : '';
  const wsFlag = flags.workspace ? ` --workspace ${flags.workspace}` : '';
  const collect = `ptg collect ${version.name} ${result.manifest.runId}${root}${wsFlag}`;
  const resume = `ptg run ${version.name} --resume ${result.manifest.runId}${root}${wsFlag}`;
  if (flags.json) printJson(result.manifest);
  ctx.print();
  for (const line of summaryLines(result, collect, resume)) ctx.result(line);
  // The abort reason is the signal's name: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP.
  if (result.interrupted) return exitForSignal(flags.signal.reason);
  if (result.manifest.experiments.every((e) => e.state === 'succeeded')) return EXIT.ok;
  return result.usageLimit ? EXIT.usageLimit : EXIT.failed;
}

/**
 * Where the run's experiments run: --executor, else the config's, else where the run being
 * resumed ran. A Slurm task runs its share here.
 */
async function executorOf(flags: RunFlags, ctx: Context, version: Version): Promise<'local' | 'slurm'> {
  if (flags.slurmTask) return 'local';
  const resumed = flags.resume ? await readManifest(ctx.workspace, version.name, flags.resume).catch(() => undefined) : undefined;
  const queued = resumed?.slurm && (await (await import('./reports/slurm-jobs.js')).queuedJobs(resumed));
  if (queued?.length) {
    throw new UsageError(`Run ${resumed!.runId} still has jobs on Slurm (${[...new Set(queued.map((j) => j.jobId))].join(', ')}): wait for them to end, or cancel them with scancel, then resume.`);
  }
  const named = flags.executor ?? ctx.root.config.executor ?? (resumed?.slurm ? 'slurm' : 'local');
  if (named !== 'local' && named !== 'slurm') throw new UsageError(`--executor ${named}: ptg knows local and slurm.`);
  if (named === 'local' && (flags.shards !== undefined || flags.sbatchArg?.length || flags.wait === false)) {
    throw new UsageError('--shards, --sbatch-arg and --no-wait go with --executor slurm.');
  }
  if (named === 'slurm' && (flags.shard || flags.shardFromEnv)) throw new UsageError('--executor slurm deals the STPs to its tasks itself: give --shards N, not --shard.');
  return named;
}

/** The run asked for: the flags over the version's settings over the config. */
async function requestOf(flags: RunFlags, ctx: Context, version: Version, stps: Stp[], shard: string | undefined): Promise<RunRequest> {
  const { config } = ctx.root;
  const settings = versionSettings(config, version.name);
  const { env, added } = agentEnv(process.env, [...settings.entries, ...(flags.env ?? [])]);
  requireEnv(env, settings.required, version.name);
  const timeout = flags.timeout ?? config.timeout;
  const idleTimeout = flags.idleTimeout ?? config.idleTimeout;
  return {
    root: ctx.root,
    workspace: ctx.workspace,
    version,
    stps,
    agentCommand: chooseAgent(flags.agent, process.env, config.agent?.command).command,
    extraArgs: [...(config.agent?.args ?? []), ...(flags.agentArg ?? []), ...perExperimentBudget(flags.maxCostPerExperiment, config.maxCostPerExperiment)],
    concurrency: positiveInt(flags.concurrency, '--concurrency') ?? config.concurrency,
    startGapMs: durationOrZero(flags.startGap ?? config.startGap, 'start-gap'),
    maxWaitMs: durationOrZero(flags.maxWait ?? config.maxWait, 'max-wait'),
    timeoutMs: timeout === undefined ? undefined : parseDuration(timeout, 'timeout'),
    idleTimeoutMs: idleTimeout === undefined ? undefined : parseDuration(idleTimeout, 'idle-timeout'),
    runId: flags.runId,
    resume: flags.resume,
    repeat: positiveInt(flags.repeat, '--repeat'),
    shard,
    env,
    envNames: [...new Set([...settings.required, ...added])],
    secrets: runSecrets(env, [...settings.required, ...added]),
    artifacts: [...settings.artifacts, ...(flags.artifact ?? [])],
    models: modelsOf(flags.model, settings, [...(config.agent?.args ?? []), ...(flags.agentArg ?? [])]),
    ...(await chainSettings(flags, settings)),
    dryRun: flags.dryRun,
    maxCostUsd: flags.maxCost === undefined ? config.maxCost : usd(flags.maxCost, '--max-cost'),
    checks: checksOf(settings),
    checkConcurrency: positiveInt(flags.checkConcurrency, '--check-concurrency') ?? config.checkConcurrency,
    retries: flags.retries === undefined ? config.retries : wholeNumber(flags.retries, '--retries'),
    sandbox: sandboxSettings(flags, process.env, config.sandbox, { root: ctx.root.dir, cwd: process.cwd() }, { name: version.name, network: config.versions?.[version.name]?.sandbox?.network }),
    slurmTask: flags.slurmTask ? slurmPlaceFromEnv(process.env) : undefined,
    ptgVersion: flags.ptgVersion,
  };
}

/** Executes the plan with its progress shown: the live table on a terminal, a line per event elsewhere. */
async function runWithProgress(plan: RunPlan, req: RunRequest, flags: RunFlags, ctx: Context): Promise<RunResult> {
  const { manifest } = plan;
  const rows = new Map<string, LiveRow>(plan.experiments.map((e) => [e.dir, { label: experimentLabel(e.stp, e.model, e.repeat), state: 'pending' }]));
  // Which claude runs is never a surprise. Its version comes from the last time this same file was
  // asked: asking now would delay the agents; the manifest gets the answer of this run.
  const agentVersion = plan.cachedAgentVersion ?? '(version asked in the background)';
  ctx.print(
    `${flags.resume ? 'Resuming' : 'Running'} ${req.version.name} on ${plan.experiments.length} experiment(s), ${manifest.concurrency} at a time · run ${manifest.runId} · agent ${plan.agentPath} ${agentVersion}`,
  );
  // While a usage limit holds every start, a countdown under the table.
  let pausedUntil = 0;
  const view = ctx.live ? new LiveView(ctx.out, () => [...liveLines([...rows.values()]), ...(pausedUntil > Date.now() ? [waitingLine(pausedUntil)] : [])]) : undefined;
  view?.start(500);
  flags.signal.addEventListener('abort', () => {
    view?.stop();
    process.stderr.write(`${interruptLine(String(flags.signal.reason ?? 'Interrupted'))}\n`);
    view?.start(500);
  });
  const result = await executeRun(plan, req, flags.signal, {
    onExperimentStarted: (exp, pid) => {
      Object.assign(rows.get(exp.dir)!, { state: 'running', startedAt: Date.now() });
      if (!view) ctx.print(`[STP ${rows.get(exp.dir)!.label}] started (pid ${pid ?? '?'}) in ${exp.slotDir}`);
    },
    onExperimentRetry: (exp, attempt, reason) => {
      if (!view) ctx.print(`[STP ${rows.get(exp.dir)!.label}] ${reason}: trying again (attempt ${attempt})`);
    },
    onExperimentRequeued: (exp, reason, why) => {
      Object.assign(rows.get(exp.dir)!, { state: 'pending', startedAt: undefined });
      const next = why === 'load' ? `${reason} before any work: queued again` : 'usage limit: runs again after the reset';
      if (!view) ctx.print(`[STP ${rows.get(exp.dir)!.label}] ${next} (not a failure)`);
    },
    onUsageLimit: (_exp, limit) => {
      if (limit.until) pausedUntil = Date.parse(limit.until);
      view?.stop(false);
      ctx.print(usageLimitLine(limit, req.maxWaitMs ?? MAX_WAIT_MS));
      view?.start(500);
    },
    onConcurrencyChanged: (change) => {
      // Said on a terminal too: the live table would not show why fewer agents run.
      view?.stop(false);
      ctx.print(`concurrency ${change.from} → ${change.to}: ${change.reason}`);
      view?.start(500);
    },
    onExperimentProgress: (exp, figures) => {
      rows.get(exp.dir)!.figures = { ...figures };
    },
    onExperimentFinished: (exp, status) => {
      Object.assign(rows.get(exp.dir)!, { state: status.state, finishedMs: status.durationMs, exitCode: status.exitCode });
      if (!view) ctx.print(finishedLine(status, statusLine(status)));
    },
  });
  // The summary table below says everything the live one did.
  view?.stop(false);
  for (const row of rows.values()) if (row.state === 'pending') row.state = 'interrupted';
  return result;
}
