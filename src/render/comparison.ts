// The words and numbers of a comparison, shared by its markdown, its HTML and the CI gate's line.
// Types only from core/reports/compare.ts: rendering must not load the statistics' WebAssembly.
import type { ComparedMetric, Comparison, ComparisonWarning, PairedComparison, RateChange, SampleSize, StpChange } from '../core/reports/compare.js';
import { formatDuration } from '../core/root/duration.js';
import { money } from './run.js';

/** A, B, C, ...: the first run is the baseline A. */
export function letter(i: number): string {
  return i < 26 ? String.fromCharCode(65 + i) : `R${i + 1}`;
}

const COUNT_NAME: Record<string, string> = { pyright: 'errors', 'pytest-collect': 'tests collected' };

export function metricTitle(m: Pick<ComparedMetric, 'key' | 'check'>): string {
  if (m.check) return m.key.endsWith(':passed') ? `${m.check} passed` : `${m.check} ${COUNT_NAME[m.check] ?? 'count'}`;
  return { success: 'Success', cost: 'Cost', duration: 'Duration', turns: 'Turns' }[m.key] ?? m.key;
}

function plain(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

/** A value in the metric's unit: 83%, $0.1234, 1m15s, 2.33. */
export function formatValue(m: Pick<ComparedMetric, 'unit'>, x: number | undefined): string {
  if (x === undefined) return '—';
  // A t interval can reach below zero for a quantity that cannot: it is shown as it is.
  if (x < 0) return `−${formatValue(m, -x)}`;
  if (m.unit === 'rate') return `${Math.round(x * 100)}%`;
  if (m.unit === 'usd') return money(x);
  if (m.unit === 'ms') return formatDuration(x);
  return plain(x);
}

/** `83% [61%, 94%]`; the estimate alone when there are too few values for an interval. */
export function intervalText(m: Pick<ComparedMetric, 'unit'>, i: ComparedMetric['runs'][number]): string {
  if (i.estimate === undefined) return '—';
  const estimate = m.unit === 'rate' && i.successes !== undefined ? `${formatValue(m, i.estimate)} (${i.successes}/${i.n})` : formatValue(m, i.estimate);
  return i.low === undefined || i.high === undefined ? estimate : `${estimate} [${formatValue(m, i.low)}, ${formatValue(m, i.high)}]`;
}

/** B − A: `+33 pp`, `−$0.0100`, `+1.2s`, `0`. */
export function differenceText(m: Pick<ComparedMetric, 'unit'>, d: number | undefined): string {
  if (d === undefined) return '—';
  if (d === 0) return m.unit === 'rate' ? '0 pp' : '0';
  const sign = d > 0 ? '+' : '−';
  const size = Math.abs(d);
  if (m.unit === 'rate') return `${sign}${Math.round(size * 100)} pp`;
  return `${sign}${formatValue(m, size)}`;
}

export function pText(p: number): string {
  return p < 0.001 ? 'p < 0.001' : `p = ${Number(p.toPrecision(2))}`;
}

/** `sign test, A 3 · B 1` or `signed-rank, V = 21 (exact)`. */
export function testText(p: PairedComparison, first: string, other: string): string {
  if (p.test === 'sign') return `sign test: ${first} higher in ${p.b}, ${other} in ${p.c}`;
  return `signed-rank: V = ${p.statistic}${p.exact ? ', exact' : ', normal approx.'}`;
}

/** `worse`, `better`, `no detectable difference with n = 6`, and why when n is too small for any p < 0.05. */
export function verdictText(p: PairedComparison): string {
  if (p.n === 0) return 'nothing to compare: no STP has a value in both';
  if (p.verdict !== 'no detectable difference') return p.verdict;
  // The smallest two-sided p of the sign test over n STPs is 2^(1 - n): 0.0625 at n = 5. The
  // signed-rank test's normal approximation goes lower when every difference ties: 0.072 at
  // n = 4, but 0.037 at n = 5.
  const tooFew = p.n <= (p.test === 'sign' ? 5 : 4);
  return `no detectable difference with n = ${p.n}${tooFew ? ' (too few STPs for any p < 0.05)' : ''}`;
}

export function sampleSizeText(s: SampleSize): string {
  const basis = s.discordance === s.observedDiscordance
    ? `from the share of pairs where only one succeeded here, ${s.observedDiscordance.toFixed(2)}`
    : `assuming A and B succeed independently: here only ${s.observedDiscordance.toFixed(2)} of the pairs disagree`;
  return `To detect a ${Math.round(s.difference * 100)}-point difference in success rate takes about ${s.pairs} paired experiments (STP × repeat; more STPs are worth more than more repeats) for 80% power at α = 0.05, ${basis}; this comparison has ${s.units}.`;
}

const short = (hash: string | undefined) => (hash ?? '').split(', ').map((h) => h.slice(0, 12)).join(', ');

/** One sentence per warning, naming the runs by letter. */
export function warningText(w: ComparisonWarning, c: Comparison): string {
  const [a, b] = w.runs.map(letter) as [string, string];
  switch (w.kind) {
    case 'agent-version':
      return `The agent differs: ${w.a} in ${a}, ${w.b} in ${b}. A difference may be the release's, not the version's.`;
    case 'model':
      return `The model differs: ${w.a} in ${a}, ${w.b} in ${b}. A difference may be the model's, not the version's.`;
    case 'base-commit':
      return `The target differs: base commit ${short(w.a)} in ${a}, ${short(w.b)} in ${b}. A difference may be the code's, not the version's.`;
    case 'sandbox':
      return `The sandbox differs: ${w.a} in ${a}, ${w.b} in ${b}. An agent outside one can read other slots, earlier records and the home folder, and one with more of the network can fetch more: a difference may come from there.`;
    case 'context':
      return `What else shapes the agent (CLAUDE.md files, .claude/settings*.json, ~/.claude) differs between ${a} and ${b} for STP ${w.stps!.join(', ')}. A difference may come from there, not from the version.`;
    case 'version-changed':
      return `${c.runs[w.runs[0]]!.version} changed between the runs (version hash ${short(w.a)} in ${a}, ${short(w.b)} in ${b}): they test two prompts under one name.`;
    case 'same-version':
      return `${c.runs[w.runs[0]]!.version} and ${c.runs[w.runs[1]]!.version} are the same files (version hash ${short(w.a)}): any difference between ${a} and ${b} is chance, or one of the above.`;
  }
}

function rateChangeText(r: RateChange, first: string, other: string): string {
  const verb = r.metric === 'success' ? 'succeeded' : `${r.metric} passed`;
  if (r.a.n === 1 && r.b.n === 1) {
    const up = r.b.k > r.a.k;
    return r.metric === 'success' ? `succeeded in ${up ? other : first}, not in ${up ? first : other}` : `${r.metric} passed in ${up ? other : first}, failed in ${up ? first : other}`;
  }
  return `${verb} ${r.a.k}/${r.a.n} → ${r.b.k}/${r.b.n}`;
}

/** `STP 2: succeeded in A, not in B; pyright passed 3/3 → 0/3`. */
export function stpChangeText(s: StpChange): string {
  return `STP ${s.stp}: ${s.changes.map((r) => rateChangeText(r, letter(0), letter(s.run))).join('; ')}`;
}

/** The CI gate's line: which metrics of which run are worse than the first's beyond the noise. */
export function gateText(c: Comparison, worse: { metric: ComparedMetric; paired: PairedComparison }[]): string {
  const runs = [...new Set(worse.map((w) => w.paired.run))];
  return runs.map((run) => {
    const items = worse.filter((w) => w.paired.run === run).map((w) => `${metricTitle(w.metric)} (${differenceText(w.metric, w.paired.meanDifference)} per STP, ${pText(w.paired.pValue)})`);
    return `${letter(run)} (${c.runs[run]!.label}) is worse than A (${c.runs[0]!.label}) beyond the noise: ${items.join(', ')}.`;
  }).join(' ');
}

/** A table as text cells, for markdown and HTML alike. */
export interface TextTable {
  head: string[];
  rows: string[][];
}

/** `v2@x · agent 2.1.5 · model opus · base 1a2b3c4d5e6f · version hash 9f8e…`. */
export function runText(c: Comparison, i: number): string {
  const r = c.runs[i]!;
  const models = r.reportedModels.length ? r.reportedModels.join(', ') : r.model ?? '?';
  return `${r.label} · agent ${r.agentVersion || '?'} · model ${models} · base ${r.baseCommits.map((h) => h.slice(0, 12)).join(', ') || '?'}${r.versionHash ? ` · version hash ${r.versionHash.slice(0, 12)}` : ''}`;
}

export const PER_RUN_INTRO = "Per run, over every experiment (repeats included): the rate or mean and its 95% interval, Wilson's for rates, Student's t for means.";

/** Per metric and run: `83% (15/18) [61%, 94%]`, `$0.1500 [$0.1200, $0.1800] (n = 18)`. */
export function perRunTable(c: Comparison): TextTable {
  return {
    head: ['Metric', 'Better', ...c.runs.map((_, i) => letter(i))],
    rows: c.metrics.map((m) => [metricTitle(m), m.better, ...m.runs.map((i) => (m.kind === 'mean' && i.n ? `${intervalText(m, i)} (n = ${i.n})` : intervalText(m, i)))]),
  };
}

/** Experiments that did not end are left out of success and duration: say so when there are any. */
export function leftOutText(c: Comparison): string | undefined {
  const left = c.stps.flatMap((s) => s.runs).reduce((n, r) => n + r.experiments - r.ended, 0);
  if (!left) return undefined;
  return `${left} experiment${left === 1 ? '' : 's'} that did not end (skipped by the budget, interrupted, running, without a status) ${left === 1 ? 'is' : 'are'} left out of success and duration.`;
}

export function pairedTitle(run: number): string {
  return `${letter(run)} against ${letter(0)}, paired by STP`;
}

export function pairedIntro(run: number): string {
  const [a, b] = [letter(0), letter(run)];
  return `Each STP both ran gives one difference, ${b} − ${a}, of its means over its repeats (its rates, for success and a check's passing). Rates: the exact sign test (McNemar's exact test when no STP repeats); the rest: Wilcoxon's signed-rank test. Two-sided, α = 0.05.`;
}

const pairedOfRun = (c: Comparison, run: number) => c.metrics.map((m) => ({ m, p: m.paired.find((p) => p.run === run)! }));

export function pairedTable(c: Comparison, run: number): TextTable {
  const [a, b] = [letter(0), letter(run)];
  return {
    head: ['Metric', 'STPs', `Mean ${b} − ${a}`, 'Test', 'p', 'Verdict'],
    rows: pairedOfRun(c, run).map(({ m, p }) => [metricTitle(m), String(p.n), differenceText(m, p.meanDifference), p.n ? testText(p, a, b) : '—', p.n ? pText(p.pValue) : '—', verdictText(p)]),
  };
}

export function sampleSizeOfRun(c: Comparison, run: number): string | undefined {
  const size = c.metrics.find((m) => m.key === 'success')?.paired.find((p) => p.run === run)?.sampleSize;
  return size && sampleSizeText(size);
}

/** Per STP both ran, B − A of every metric; undefined when they share none. */
export function perStpTable(c: Comparison, run: number): TextTable | undefined {
  const paired = pairedOfRun(c, run);
  const stps = c.stps.map((s) => s.stp).filter((stp) => paired.some(({ p }) => p.perStp.some((s) => s.stp === stp)));
  if (!stps.length) return undefined;
  return {
    head: ['STP', ...paired.map(({ m }) => metricTitle(m))],
    rows: stps.map((stp) => [stp, ...paired.map(({ m, p }) => differenceText(m, p.perStp.find((s) => s.stp === stp)?.difference))]),
  };
}

export function regressionsHeading(c: Comparison, run: number): string {
  const worse = c.regressions.filter((r) => r.run === run).length;
  const who = `${letter(run)} against ${letter(0)}`;
  return worse ? `${who}: ${worse} STP${worse === 1 ? '' : 's'} did worse (succeeded, or passed a check, less often):` : `${who}: no STP did worse.`;
}

export const REGRESSIONS_NOTE = 'A regression here is any STP that did worse; whether the runs differ beyond the noise is for the paired tests below.';
