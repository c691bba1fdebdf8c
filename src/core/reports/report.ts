// core/reports/ — imports from core/root, core/workspace, core/agent, core/setup, core/checks, core/run (and io/); imported by render/, demo/ and commands/ alone. The order of core's folders: docs/architecture.md.
import path from 'node:path';
import { tailLines } from '../../io/files.js';
import type { ChangedFile } from '../../io/git.js';
import type { Tokens } from '../../io/streamjson.js';
import { type CheckResults, latestChecks } from '../workspace/check-results.js';
import { EXPERIMENT_FILES, statusLine } from '../workspace/experiment-folder.js';
import { type CarryStatus, type ExperimentState, type ExperimentStatus, experimentRelDir, type ManifestExperiment, type MaskedFile, type RunManifest, readStatus, sandboxText } from '../workspace/manifest.js';
import { isAlive } from '../workspace/lock.js';

export type ReportStatus = Exclude<ExperimentState, 'pending'> | 'unknown';

export interface ReportExperiment {
  stp: string;
  repeat?: number;
  /** The model asked for (--model); `model` is the one the agent reported. */
  requestedModel?: string;
  status: ReportStatus;
  /** "succeeded", "failed (exit 3)", "agent error", ... */
  statusText: string;
  /** The scripts' line: `[STP 3] ✓ Completed successfully`. */
  statusLine: string;
  exitCode?: number;
  agentError?: string;
  testFiles: string[];
  changedFiles: ChangedFile[];
  /** Files kept from the slot (`artifacts`), repository paths: under `artifacts/` of the experiment folder. */
  artifacts: string[];
  /** Where secrets were masked: names and counts, never values. */
  masked: MaskedFile[];
  /** A sequential run: the carried files' lines as received and as left. */
  carry?: CarryStatus;
  /** Earlier attempts run again after a transient API error (--retries); cost and tokens count them. */
  retries: NonNullable<ExperimentStatus['retries']>;
  pyright?: { errors: number; warnings: number; failure?: string };
  /** Every check's verdict that stands (a later `ptg verify`'s over the run's own). */
  checks: CheckResults;
  /** When `ptg verify` last ran the checks again. */
  verifiedAt?: string;
  durationMs?: number;
  turns?: number;
  costUsd?: number;
  tokens?: Tokens;
  model?: string;
  baseCommit: string;
  /** `bwrap 0.8.0`, or `none (why)`: what the agent ran under (none known without a status.json). */
  sandbox?: string;
  /** What else shaped the agent (status.json `context`): compare warns where two runs differ in it. */
  contextHash?: string;
  contextFiles?: string[];
  /** The experiment folder inside the workspace: `experiments/<version>_experiment_<run-id>/<slot>`. */
  folder: string;
  logTail: string[];
}

export interface ReportTotals {
  experiments: number;
  succeeded: number;
  costUsd: number;
  medianDurationMs?: number;
  pyrightErrors: number;
  turns: number;
  /** Per check: how many experiments passed, failed, and where it could not run; the sum of its counts. */
  checks: Record<string, { passed: number; failed: number; notRun: number; count: number }>;
}

/** Per STP over its repeats (--repeat): success rate, mean and spread. */
export interface RepeatAggregate {
  stp: string;
  runs: number;
  succeeded: number;
  meanPyrightErrors?: number;
  sdPyrightErrors?: number;
  meanCostUsd?: number;
  meanDurationMs?: number;
  sdDurationMs?: number;
}

/** A run's report: everything summary.md, report.html, junit.xml and summary.json show. */
export interface Report {
  format: 1;
  version: string;
  kind: RunManifest['kind'];
  runId: string;
  date: string;
  ptgVersion: string;
  agent: { command: string; version: string };
  /** sha256 of the version's installed files: compare tells a changed version from the same one. */
  versionHash?: string;
  model?: string;
  repo: string;
  baseCommits: string[];
  /** What its agents ran under, each distinct one once: `bwrap 0.8.0`, `none (--sandbox none)`. */
  sandboxes: string[];
  /** The run's own state: a report of a run in progress says so. */
  runState: RunManifest['state'] | 'stale';
  experiments: ReportExperiment[];
  /** The checks any experiment has a verdict of, in the order they ran. */
  checks: string[];
  totals: ReportTotals;
  repeats?: RepeatAggregate[];
  /** A sequential run's carried paths; the last of each are in the results folder's `carry/`. */
  carried?: string[];
}

export const LOG_TAIL = 50;

/**
 * The agent reported another model than the one asked for. An alias asked for (`opus`) is in the
 * full name the agent reports (`claude-opus-4-8[1m]`): that is a match.
 */
export function modelMismatch(e: Pick<ReportExperiment, 'requestedModel' | 'model'>): boolean {
  return Boolean(e.requestedModel && e.model && !e.model.toLowerCase().includes(e.requestedModel.toLowerCase()));
}

/** One model's part of a matrix run, as a report of its own (compare puts each in a column group). */
export function modelReport(report: Report, model: string): Report {
  const experiments = report.experiments.filter((e) => e.requestedModel === model);
  return { ...report, model, experiments, checks: checkNames(experiments), totals: totalsOf(experiments), repeats: repeatsOf(experiments) };
}

const TEXT: Record<ReportStatus, string> = {
  succeeded: 'succeeded',
  failed: 'failed',
  agent_error: 'agent error',
  timed_out: 'timed out',
  interrupted: 'interrupted',
  skipped: 'skipped (budget)',
  usage_limited: 'usage limit',
  running: 'running',
  unknown: 'unknown',
};

export function statusText(status: ReportStatus, exitCode?: number): string {
  return status === 'failed' && exitCode !== undefined ? `failed (exit ${exitCode})` : TEXT[status];
}

export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1]! + s[mid]!) / 2;
}

export function mean(values: number[]): number | undefined {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : undefined;
}

function sd(values: number[]): number | undefined {
  const m = mean(values);
  if (m === undefined || values.length < 2) return undefined;
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
}

/** Reads one experiment folder into a report row; a folder without status.json is `unknown`. */
export async function readExperiment(dir: string, entry: Pick<ManifestExperiment, 'stp' | 'repeat' | 'model' | 'baseCommit' | 'state'>, runAlive: boolean): Promise<ReportExperiment> {
  const s = await readStatus(dir);
  let status: ReportStatus = s?.state && s.state !== 'pending' ? s.state : 'unknown';
  // A status that says running while no ptg runs it any more: the run died.
  if (status === 'running' && !runAlive) status = 'unknown';
  if (!s && (entry.state === 'interrupted' || entry.state === 'usage_limited')) status = entry.state;
  const row = {
    stp: entry.stp,
    repeat: entry.repeat,
    requestedModel: entry.model,
    status,
    exitCode: s?.exitCode,
    signal: s?.signal,
    agentError: s?.agentError,
    timeoutMs: s?.timeoutMs,
    usageLimit: s?.usageLimit,
  };
  return {
    ...row,
    statusText: statusText(status, s?.exitCode),
    statusLine: status === 'unknown' ? `[STP ${entry.stp}] ? no status written` : statusLine({ ...row, state: status as ExperimentState }),
    testFiles: s?.testFiles ?? [],
    changedFiles: s?.changedFiles ?? [],
    artifacts: s?.artifacts ?? [],
    masked: s?.masked ?? [],
    carry: s?.carry,
    retries: s?.retries ?? [],
    pyright: s?.pyright ? { errors: s.pyright.errors, warnings: s.pyright.warnings, failure: s.pyright.failure } : undefined,
    ...(s ? latestChecks(s) : { checks: {} }),
    durationMs: s?.durationMs,
    turns: s?.turns,
    costUsd: s?.costUsd,
    tokens: s?.tokens,
    model: s?.model,
    baseCommit: s?.baseCommit ?? entry.baseCommit,
    sandbox: s && status !== 'skipped' ? sandboxText(s.sandbox) : undefined,
    contextHash: s?.context?.hash,
    contextFiles: s?.context?.files,
    folder: experimentRelDir(dir),
    logTail: await tailLines(path.join(dir, EXPERIMENT_FILES.log), LOG_TAIL),
  };
}

export function totalsOf(experiments: ReportExperiment[]): ReportTotals {
  const durations = experiments.filter((e) => e.durationMs !== undefined && e.status !== 'running').map((e) => e.durationMs!);
  return {
    experiments: experiments.length,
    succeeded: experiments.filter((e) => e.status === 'succeeded').length,
    costUsd: round(experiments.reduce((sum, e) => sum + (e.costUsd ?? 0), 0)),
    medianDurationMs: median(durations),
    pyrightErrors: experiments.reduce((sum, e) => sum + (e.pyright?.errors ?? 0), 0),
    turns: experiments.reduce((sum, e) => sum + (e.turns ?? 0), 0),
    checks: Object.fromEntries(checkNames(experiments).map((name) => {
      const results = experiments.map((e) => e.checks[name]).filter((c) => c !== undefined);
      return [name, {
        passed: results.filter((c) => c.passed === true).length,
        failed: results.filter((c) => c.passed === false).length,
        notRun: results.filter((c) => c.passed === null).length,
        count: results.reduce((sum, c) => sum + (c.count ?? 0), 0),
      }];
    })),
  };
}

/** The checks of these experiments, in the order they ran. */
export function checkNames(experiments: Pick<ReportExperiment, 'checks'>[]): string[] {
  return [...new Set(experiments.flatMap((e) => Object.keys(e.checks)))];
}

export function repeatsOf(experiments: ReportExperiment[]): RepeatAggregate[] | undefined {
  if (!experiments.some((e) => e.repeat)) return undefined;
  const byStp = new Map<string, ReportExperiment[]>();
  for (const e of experiments) byStp.set(e.stp, [...(byStp.get(e.stp) ?? []), e]);
  return [...byStp].map(([stp, list]) => {
    const errors = list.filter((e) => e.pyright && !e.pyright.failure).map((e) => e.pyright!.errors);
    const durations = list.filter((e) => e.durationMs !== undefined).map((e) => e.durationMs!);
    const costs = list.filter((e) => e.costUsd !== undefined).map((e) => e.costUsd!);
    return {
      stp,
      runs: list.length,
      succeeded: list.filter((e) => e.status === 'succeeded').length,
      meanPyrightErrors: mean(errors),
      sdPyrightErrors: sd(errors),
      meanCostUsd: costs.length ? round(mean(costs)!) : undefined,
      meanDurationMs: mean(durations),
      sdDurationMs: sd(durations),
    };
  });
}

function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

/** Builds the report of a run from its manifest and its experiment folders. */
export async function buildReport(manifest: RunManifest): Promise<Report> {
  const runAlive = manifest.state === 'running' && isAlive(manifest.pid);
  const experiments: ReportExperiment[] = [];
  for (const e of manifest.experiments) {
    experiments.push(await readExperiment(e.dir, e, runAlive));
  }
  return assemble(manifest, experiments, manifest.state === 'running' && !runAlive ? 'stale' : manifest.state);
}

export function assemble(manifest: RunManifest, experiments: ReportExperiment[], runState: Report['runState']): Report {
  return {
    format: 1,
    version: manifest.version,
    kind: manifest.kind,
    runId: manifest.runId,
    date: manifest.startedAt,
    ptgVersion: manifest.ptgVersion,
    agent: { command: path.basename(manifest.agent.command), version: manifest.agent.version },
    versionHash: manifest.versionHash,
    model: manifest.model ?? experiments.find((e) => e.model)?.model,
    repo: manifest.repo,
    baseCommits: [...new Set(experiments.map((e) => e.baseCommit))],
    sandboxes: [...new Set(experiments.flatMap((e) => (e.sandbox ? [e.sandbox] : [])))],
    runState,
    experiments,
    checks: checkNames(experiments),
    totals: totalsOf(experiments),
    repeats: repeatsOf(experiments),
    carried: manifest.sequential?.carry,
  };
}

