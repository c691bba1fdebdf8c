// `ptg compare`: runs side by side, and whether a difference between them is more than noise.
// The first run is the baseline (A); every later run is compared with it (B, C, ...).
//
// The unit of the paired tests is the STP, not the experiment: repeats of one STP share its
// difficulty, so 7 STPs × 3 repeats are not 21 independent pairs, and testing them as such would
// call noise a difference. Each STP contributes one difference, B − A, of its means over its
// repeats (of its rates, for success and a check's pass rate). Rates get the exact sign test on
// those differences; without repeats that is McNemar's exact test on the discordant pairs. The
// rest (check counts, cost, duration, turns) get Wilcoxon's signed-rank test. The per-run
// intervals use every experiment, repeats included, as the issue asks: with repeats they are
// narrower than the STP-level evidence warrants, which is why the verdicts come from the tests.
//
// stats.ts loads the cephes WebAssembly when imported (~30 ms). Importing it here statically is
// enough to keep the other commands from paying: this module is reached only from
// commands/reports/compare.ts, which cli.ts imports when `ptg compare` runs, and render/ imports nothing
// but its types. That keeps compareReports synchronous and pure.
import { type Better, defaultBetter } from '../workspace/check-results.js';
import type { Report, ReportExperiment, ReportStatus, ReportTotals } from './report.js';
import { type Interval, mcnemarExact, meanInterval, pairsNeeded, signedRank, verdict, wilson } from './stats.js';

export interface ComparedRun {
  version: string;
  runId: string;
  /** `v2.1@20260209_143022`, `v2.1:opus@20260209_143022` for one model of a matrix run. */
  label: string;
  /** The model of the run: the one asked for, else the one the agent reported. */
  model?: string;
  /** Every model the run's agents reported, sorted. */
  reportedModels: string[];
  agentVersion: string;
  versionHash?: string;
  baseCommits: string[];
  checks: string[];
}

export interface ComparisonAggregate extends ReportTotals {
  successRate: number;
}

export type { Better };

export interface ComparedMetric {
  /** `success`, `check:<name>:passed`, `check:<name>:count`, `cost`, `duration`, `turns`. */
  key: string;
  /** The check a `check:` metric is of. */
  check?: string;
  kind: 'rate' | 'mean';
  unit: 'rate' | 'usd' | 'ms' | 'count';
  better: Better;
  /** Per run: n, estimate and 95% interval over every experiment with a value (Wilson for rates, t for means). */
  runs: (Interval & { successes?: number })[];
  /** Per later run: the paired comparison with the first. */
  paired: PairedComparison[];
}

export type Verdict = ReturnType<typeof verdict>;

export interface PairedComparison {
  /** The run compared with the first (A): its index in `runs`. */
  run: number;
  /** STPs with a value in both runs: the sample size of the test. */
  n: number;
  test: 'sign' | 'signed-rank';
  /** Mean over those STPs of B − A. */
  meanDifference?: number;
  /** Sign test: STPs where A's rate was higher (b) and where B's was (c). */
  b?: number;
  c?: number;
  /** Signed-rank: V, the sum of the ranks of the positive differences B − A (zeros dropped). */
  statistic?: number;
  /** Signed-rank: the exact distribution, or the normal approximation (ties, zeros, 50 or more). */
  exact?: boolean;
  pValue: number;
  verdict: Verdict;
  /** Success only: how many paired experiments a test would need to detect `sampleSize.difference`. */
  sampleSize?: SampleSize;
  /** Per STP: A's and B's means over their repeats, and B − A. */
  perStp: { stp: string; a: number; b: number; difference: number }[];
}

export interface SampleSize {
  /** The difference in success rate to detect: 0.2 is 20 percentage points. */
  difference: number;
  /** The share of paired experiments (STP, repeat k) where exactly one of A and B succeeded. */
  observedDiscordance: number;
  /** What `pairs` assumes: the observed discordance, or Connor's default when it is below `difference`. */
  discordance: number;
  /** Paired experiments this comparison has. */
  units: number;
  /** Paired experiments (STP × repeats) needed for 80% power at α = 0.05. */
  pairs: number;
}

/** An STP's rate of success (or of a check's passing) in A and B: k of n. */
export interface RateChange {
  /** `success` or a check's name. */
  metric: string;
  a: { k: number; n: number };
  b: { k: number; n: number };
}

/** An STP where B did worse (a regression) or better than A: every rate that changed that way. */
export interface StpChange {
  run: number;
  stp: string;
  changes: RateChange[];
}

/**
 * Two runs differ in something besides the version under test. `a` and `b` are what each had;
 * `stps` lists the STPs concerned where that is per STP (the context).
 */
export interface ComparisonWarning {
  kind: 'agent-version' | 'model' | 'base-commit' | 'sandbox' | 'context' | 'version-changed' | 'same-version';
  runs: [number, number];
  a?: string;
  b?: string;
  stps?: string[];
}

/** Side by side: one row per STP (per STP and repeat with --repeat), one cell per run (undefined: that run has no such experiment). */
export interface Comparison {
  format: 2;
  runs: ComparedRun[];
  /** Every check of any run, in the order they ran: a column each. */
  checks: string[];
  rows: { stp: string; repeat?: number; cells: (ReportExperiment | undefined)[] }[];
  /** Per STP and run: how many experiments (repeats), how many ended, how many succeeded; 0 experiments: the run has no such STP. */
  stps: { stp: string; runs: { experiments: number; ended: number; succeeded: number }[] }[];
  aggregates: ComparisonAggregate[];
  warnings: ComparisonWarning[];
  metrics: ComparedMetric[];
  /** STPs where a later run did worse than the first: succeeded, or passed a check, less often. */
  regressions: StpChange[];
  improvements: StpChange[];
}

/** The difference in success rate compare says how many pairs would be needed to detect. */
export const DETECT_DIFFERENCE = 0.2;

/**
 * Experiments that ended say something about the version; one skipped by the budget,
 * interrupted, still running or without a status does not, and is left out of the statistics.
 */
const ENDED: ReadonlySet<ReportStatus> = new Set(['succeeded', 'failed', 'agent_error', 'timed_out']);

/** Which way each check's count is good, by name: its `better` in the config. A check not named goes by `defaultBetter`. */
export type CountDirections = Record<string, Better>;

interface MetricSpec {
  key: string;
  check?: string;
  kind: ComparedMetric['kind'];
  unit: ComparedMetric['unit'];
  better: Better;
  /** The experiment's value: 1 or 0 for a rate; undefined when it has none. */
  of: (e: ReportExperiment) => number | undefined;
}

function metricSpecs(checks: string[], directions: CountDirections): MetricSpec[] {
  const ended = (e: ReportExperiment) => ENDED.has(e.status);
  const verdictOf = (name: string) => (e: ReportExperiment) => {
    const passed = e.checks[name]?.passed;
    return passed === true ? 1 : passed === false ? 0 : undefined;
  };
  const countOf = (name: string) => (e: ReportExperiment) => e.checks[name]?.count ?? undefined;
  return [
    { key: 'success', kind: 'rate', unit: 'rate', better: 'higher', of: (e) => (ended(e) ? Number(e.status === 'succeeded') : undefined) },
    ...checks.flatMap((name): MetricSpec[] => [
      { key: `check:${name}:passed`, check: name, kind: 'rate', unit: 'rate', better: 'higher', of: verdictOf(name) },
      { key: `check:${name}:count`, check: name, kind: 'mean', unit: 'count', better: directions[name] ?? defaultBetter(name), of: countOf(name) },
    ]),
    { key: 'cost', kind: 'mean', unit: 'usd', better: 'lower', of: (e) => e.costUsd },
    { key: 'duration', kind: 'mean', unit: 'ms', better: 'lower', of: (e) => (ended(e) ? e.durationMs : undefined) },
    { key: 'turns', kind: 'mean', unit: 'count', better: 'lower', of: (e) => e.turns },
  ];
}

/** Per STP, per run: its experiments (every repeat; none when the run has no such STP). */
type Groups = { stp: string; runs: ReportExperiment[][] }[];

const defined = (values: (number | undefined)[]) => values.filter((v): v is number => v !== undefined && Number.isFinite(v));
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/**
 * A per-STP difference without float noise: the mean of three 0.1s is 0.10000000000000002, and
 * 1e-17 would count as a difference (and 1/3 − 0 would not tie with 2/3 − 1/3). Nine decimals
 * keep every cost (dollars), duration (ms), count and rate that matters.
 */
const tidy = (x: number) => Number(x.toFixed(9)) || 0;

function intervalOf(spec: MetricSpec, experiments: ReportExperiment[]): ComparedMetric['runs'][number] {
  const values = defined(experiments.map(spec.of));
  if (spec.kind === 'mean') return meanInterval(values);
  return { ...wilson(sum(values), values.length), successes: sum(values) };
}

/** One STP's mean over its repeats (its rate, for a rate); undefined when none has a value. */
function stpMean(spec: MetricSpec, experiments: ReportExperiment[]): number | undefined {
  const values = defined(experiments.map(spec.of));
  return values.length ? sum(values) / values.length : undefined;
}

function pairedOf(spec: MetricSpec, stps: Groups, run: number): PairedComparison {
  const perStp = stps.flatMap(({ stp, runs }) => {
    const a = stpMean(spec, runs[0]!);
    const b = stpMean(spec, runs[run]!);
    return a === undefined || b === undefined ? [] : [{ stp, a, b, difference: tidy(b - a) }];
  });
  const differences = perStp.map((p) => p.difference);
  const n = perStp.length;
  const meanDifference = n ? tidy(sum(differences) / n) : undefined;
  const higherIsBetter = spec.better === 'higher';
  if (spec.kind === 'rate') {
    const test = mcnemarExact(differences.filter((d) => d < 0).length, differences.filter((d) => d > 0).length);
    return { run, n, test: 'sign', meanDifference, b: test.b, c: test.c, pValue: test.pValue, verdict: verdict(test.pValue, test.c - test.b, higherIsBetter), perStp };
  }
  const test = signedRank(differences);
  const direction = test.statistic - (test.n * (test.n + 1)) / 4;
  return { run, n, test: 'signed-rank', meanDifference, statistic: test.statistic, exact: test.exact, pValue: test.pValue, verdict: verdict(test.pValue, direction, higherIsBetter), perStp };
}

/**
 * How many paired experiments would detect a 20-point difference in success rate, from the
 * discordance of this comparison's pairs (STP, repeat k of A with repeat k of B; no repeat is
 * repeat 1). A discordance below the difference cannot hold one that large: then Connor's
 * default (A and B independent) stands in.
 */
function sampleSizeOf(stps: Groups, run: number): SampleSize | undefined {
  let units = 0;
  let discordant = 0;
  for (const { runs } of stps) {
    for (const a of runs[0]!) {
      const b = runs[run]!.find((e) => (e.repeat ?? 1) === (a.repeat ?? 1));
      if (!b || !ENDED.has(a.status) || !ENDED.has(b.status)) continue;
      units += 1;
      if ((a.status === 'succeeded') !== (b.status === 'succeeded')) discordant += 1;
    }
  }
  if (units === 0) return undefined;
  const observed = discordant / units;
  const discordance = observed >= DETECT_DIFFERENCE ? observed : 0.5 + DETECT_DIFFERENCE ** 2 / 2;
  return { difference: DETECT_DIFFERENCE, observedDiscordance: observed, discordance, units, pairs: pairsNeeded(DETECT_DIFFERENCE, discordance) };
}

/** Per STP in both runs: the rates (success, each check's pass rate) that went down in B, and those that went up. */
function changesOf(stps: Groups, checks: string[], run: number): { worse: StpChange[]; better: StpChange[] } {
  const rates = metricSpecs(checks, {}).filter((s) => s.kind === 'rate');
  const worse: StpChange[] = [];
  const better: StpChange[] = [];
  for (const { stp, runs } of stps) {
    if (!runs[0]!.length || !runs[run]!.length) continue;
    const down: RateChange[] = [];
    const up: RateChange[] = [];
    for (const spec of rates) {
      const [a, b] = [runs[0]!, runs[run]!].map((list) => defined(list.map(spec.of)));
      if (!a!.length || !b!.length) continue;
      const change = { metric: spec.check ?? 'success', a: { k: sum(a!), n: a!.length }, b: { k: sum(b!), n: b!.length } };
      const difference = change.b.k / change.b.n - change.a.k / change.a.n;
      if (difference < 0) down.push(change);
      else if (difference > 0) up.push(change);
    }
    if (down.length) worse.push({ run, stp, changes: down });
    if (up.length) better.push({ run, stp, changes: up });
  }
  return { worse, better };
}

const setOf = (values: (string | undefined)[]) => [...new Set(values.filter((v): v is string => Boolean(v)))].sort();

/** Where run `i` differs from the first in what shapes the agent besides the version under test. */
function warningsOf(reports: Report[], runs: ComparedRun[], stps: Groups, i: number): ComparisonWarning[] {
  const [a, b] = [reports[0]!, reports[i]!];
  const pair: [number, number] = [0, i];
  const warnings: ComparisonWarning[] = [];
  if (a.agent.version && b.agent.version && a.agent.version !== b.agent.version) warnings.push({ kind: 'agent-version', runs: pair, a: a.agent.version, b: b.agent.version });
  const [modelsA, modelsB] = [runs[0]!, runs[i]!].map((r) => (r.reportedModels.length ? r.reportedModels : setOf([r.model])).join(', '));
  // One version on two models (columns of a matrix run): the model is what is compared.
  const requested = (r: Report) => setOf(r.experiments.map((e) => e.requestedModel)).join(', ');
  const modelsCompared = a.version === b.version && requested(a) !== requested(b);
  if (modelsA && modelsB && modelsA !== modelsB && !modelsCompared) warnings.push({ kind: 'model', runs: pair, a: modelsA, b: modelsB });
  // Whether the agents were boxed in and what of the network they had, not bwrap's release nor why
  // one was not: that changes what an agent can read and fetch.
  const boxed = (text: string | undefined) => text && `${text.split(' ')[0]}${/ · network .*$/.exec(text)?.[0] ?? ''}`;
  const [boxA, boxB] = [a, b].map((r) => setOf(r.experiments.map((e) => boxed(e.sandbox))).join(', '));
  if (boxA && boxB && boxA !== boxB) warnings.push({ kind: 'sandbox', runs: pair, a: a.sandboxes.join(', '), b: b.sandboxes.join(', ') });
  const [baseA, baseB] = [a, b].map((r) => r.baseCommits.join(', '));
  if (baseA !== baseB) warnings.push({ kind: 'base-commit', runs: pair, a: baseA, b: baseB });
  else {
    // The context hash covers the base commit too: a different base commit has said it already.
    const differ = stps.filter(({ runs: cells }) => {
      const [ha, hb] = [cells[0]!, cells[i]!].map((list) => setOf(list.map((e) => e.contextHash)).join(','));
      return ha && hb && ha !== hb;
    });
    if (differ.length) warnings.push({ kind: 'context', runs: pair, stps: differ.map((s) => s.stp) });
  }
  if (a.versionHash && b.versionHash) {
    if (a.version === b.version && a.versionHash !== b.versionHash) warnings.push({ kind: 'version-changed', runs: pair, a: a.versionHash, b: b.versionHash });
    if (a.version !== b.version && a.versionHash === b.versionHash) warnings.push({ kind: 'same-version', runs: pair, a: a.versionHash, b: b.versionHash });
  }
  return warnings;
}

/**
 * Lines runs up by STP id (and repeat), never by position: an STP missing from one run is a gap,
 * not a shift. Then the statistics of every metric, each later run against the first; a check's
 * count is better lower unless `directions` says higher.
 */
export function compareReports(reports: Report[], order: (a: string, b: string) => number, directions: CountDirections = {}): Comparison {
  const stpIds = [...new Set(reports.flatMap((r) => r.experiments.map((e) => e.stp)))].sort(order);
  const checks = [...new Set(reports.flatMap((r) => r.checks))];
  const runs = reports.map((r): ComparedRun => ({
    version: r.version,
    runId: r.runId,
    label: `${r.version}${r.experiments.some((e) => e.requestedModel) && r.model ? `:${r.model}` : ''}@${r.runId}`,
    model: r.model,
    reportedModels: setOf(r.experiments.map((e) => e.model)),
    agentVersion: r.agent.version,
    versionHash: r.versionHash,
    baseCommits: r.baseCommits,
    checks: r.checks,
  }));
  const repeated = reports.some((r) => r.experiments.some((e) => e.repeat));
  const stps: Groups = stpIds.map((stp) => ({ stp, runs: reports.map((r) => r.experiments.filter((e) => e.stp === stp)) }));
  const rows = stps.flatMap(({ stp, runs: cells }): Comparison['rows'] => {
    if (!repeated) return [{ stp, cells: cells.map((list) => list[0]) }];
    const repeats = [...new Set(cells.flatMap((list) => list.map((e) => e.repeat ?? 1)))].sort((x, y) => x - y);
    return repeats.map((repeat) => ({ stp, repeat, cells: cells.map((list) => list.find((e) => (e.repeat ?? 1) === repeat)) }));
  });
  const later = reports.map((_, i) => i).slice(1);
  const metrics = metricSpecs(checks, directions).flatMap((spec): ComparedMetric[] => {
    const perRun = reports.map((r) => intervalOf(spec, r.experiments));
    // A check without counts (a command judged by its exit status alone) has no count metric.
    if (perRun.every((i) => i.n === 0)) return [];
    const paired = later.map((run) => ({ ...pairedOf(spec, stps, run), ...(spec.key === 'success' ? { sampleSize: sampleSizeOf(stps, run) } : {}) }));
    return [{ key: spec.key, check: spec.check, kind: spec.kind, unit: spec.unit, better: spec.better, runs: perRun, paired }];
  });
  const changes = later.map((run) => changesOf(stps, checks, run));
  return {
    format: 2,
    runs,
    checks,
    rows,
    stps: stps.map(({ stp, runs: lists }) => ({
      stp,
      runs: lists.map((list) => ({ experiments: list.length, ended: list.filter((e) => ENDED.has(e.status)).length, succeeded: list.filter((e) => e.status === 'succeeded').length })),
    })),
    aggregates: reports.map((r) => ({ ...r.totals, successRate: r.totals.experiments ? r.totals.succeeded / r.totals.experiments : 0 })),
    warnings: later.flatMap((i) => warningsOf(reports, runs, stps, i)),
    metrics,
    regressions: changes.flatMap((c) => c.worse),
    improvements: changes.flatMap((c) => c.better),
  };
}

/** Every metric where a later run is worse than the first beyond the noise (p < 0.05): what `--fail-on-regression` fails on. */
export function worseBeyondNoise(c: Comparison): { metric: ComparedMetric; paired: PairedComparison }[] {
  return c.metrics.flatMap((metric) => metric.paired.filter((p) => p.verdict === 'worse').map((paired) => ({ metric, paired })));
}
