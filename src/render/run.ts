import { experimentLabel } from '../core/workspace/experiment-folder.js';
import { formatClock, formatDuration } from '../core/root/duration.js';
import type { ExperimentState, ExperimentStatus, UsageLimitEvent } from '../core/workspace/manifest.js';
import type { RunResult } from '../core/run/execute.js';
import type { dryRunOf } from '../core/run/run.js';
import type { AgentFigures } from '../io/streamjson.js';
import type { CheckResult } from '../core/workspace/check-results.js';
import { sandboxText } from '../core/workspace/manifest.js';
import { c, sym, table } from './style.js';

export function money(usd: number | undefined): string {
  return usd === undefined ? '—' : `$${usd.toFixed(usd < 1 ? 4 : 2)}`;
}

/** A check's cell: `✓ 2`, `✗ 3` (with its count), `?` when it could not run, `—` when it has none. */
export function checkCell(result: CheckResult | undefined): string {
  if (!result || result.nothingToCheck) return '—';
  if (result.passed === null) return '?';
  return `${result.passed ? '✓' : '✗'}${result.count === null ? '' : ` ${result.count}`}`;
}

/** `pyright 3/3 · pytest-collect 1/3`: passed of those that ran, per check. */
export function checksBrief(checks: Record<string, boolean | null | undefined>[]): string {
  const names = [...new Set(checks.flatMap((c) => Object.keys(c)))];
  return names.flatMap((n) => {
    const ran = checks.filter((c) => c[n] === true || c[n] === false);
    return ran.length ? [`${n} ${ran.filter((c) => c[n]).length}/${ran.length}`] : [];
  }).join(' · ');
}

const LABEL: Record<ExperimentState, string> = {
  pending: 'waiting',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  agent_error: 'agent error',
  timed_out: 'timed out',
  interrupted: 'interrupted',
  skipped: 'skipped (budget)',
  usage_limited: 'usage limit',
};

export function stateText(state: ExperimentState, exitCode?: number): string {
  const label = state === 'failed' && exitCode !== undefined ? `failed (exit ${exitCode})` : LABEL[state];
  if (state === 'succeeded') return `${sym.ok} ${label}`;
  if (state === 'running') return `${sym.run} ${label}`;
  if (state === 'pending') return c.dim(label);
  return `${sym.fail} ${label}`;
}

export interface LiveRow {
  label: string;
  state: ExperimentState;
  startedAt?: number;
  finishedMs?: number;
  figures?: AgentFigures;
  exitCode?: number;
}

/** The live table: STP, state, elapsed, turns, cost. */
export function liveLines(rows: LiveRow[], now = Date.now()): string[] {
  return table(
    rows.map((r) => [
      r.label,
      stateText(r.state, r.exitCode),
      r.finishedMs !== undefined ? formatDuration(r.finishedMs) : r.startedAt ? formatDuration(now - r.startedAt) : '—',
      r.figures ? String(r.figures.turns) : '—',
      money(r.figures?.costUsd),
    ]),
    ['STP', 'State', 'Elapsed', 'Turns', 'Cost'],
  );
}

export function finishedLine(s: ExperimentStatus, line: string): string {
  const error = s.agentError && s.state !== 'agent_error' ? ` · ${s.agentError.split('\n')[0]!.slice(0, 120)}` : '';
  return `${line} · ${formatDuration(s.durationMs)} · ${s.turns ?? 0} turns · ${money(s.costUsd)}${s.checks ? ` · ${Object.entries(s.checks).map(([name, r]) => `${name} ${checkCell(r)}`).join(' · ')}` : ''}${error}`;
}

export function warningLine(text: string): string {
  return c.yellow(`warning: ${text}`);
}

export function interruptLine(signal: string): string {
  return c.yellow(`${signal}: stopping every agent... (again to quit at once)`);
}

/** The end of a run: summary table, totals and the exact next command (resuming, after a usage limit stopped it). */
export function summaryLines(result: RunResult, collectCommand: string, resumeCommand?: string): string[] {
  const { manifest } = result;
  const rows = manifest.experiments.map((e) => {
    const s = result.statuses.find((x) => x.stp === e.stp && x.repeat === e.repeat && x.requestedModel === e.model);
    return [
      experimentLabel(e.stp, e.model, e.repeat),
      stateText(e.state, e.exitCode),
      formatDuration(e.durationMs),
      e.turns === undefined ? '—' : String(e.turns),
      money(e.costUsd),
      s?.testFiles?.length ? s.testFiles.join(', ') : '—',
      s?.checks ? Object.entries(s.checks).map(([name, r]) => `${name} ${checkCell(r)}`).join(', ') : '—',
    ];
  });
  const ok = manifest.experiments.filter((e) => e.state === 'succeeded').length;
  const cost = manifest.experiments.reduce((sum, e) => sum + (e.costUsd ?? 0), 0);
  return [
    ...table(rows, ['STP', 'Status', 'Duration', 'Turns', 'Cost', 'Test files', 'Checks']),
    '',
    `${ok === manifest.experiments.length ? sym.ok : sym.warn} ${ok}/${manifest.experiments.length} succeeded · total cost ${money(cost)} · run ${c.bold(manifest.runId)}${result.interrupted ? ' · interrupted' : ''}${result.usageLimit ? ' · stopped at the usage limit' : ''}`,
    result.usageLimit && resumeCommand && ok < manifest.experiments.length
      ? `Next: after the reset${result.usageLimit.resetsAt ? ` (${formatClock(result.usageLimit.resetsAt)})` : ''}, ${c.bold(resumeCommand)}; or now ${collectCommand}`
      : `Next: ${c.bold(collectCommand)}`,
  ];
}

/**
 * A usage limit met: `usage limit at STP 3 (…): no agent starts until 15:04:07, its reset (in 6s)`,
 * or, past --max-wait, that the run stops starting agents.
 */
export function usageLimitLine(limit: UsageLimitEvent, maxWaitMs: number, now = Date.now()): string {
  const head = `usage limit at STP ${limit.stp} (${limit.message.slice(0, 120)})`;
  if (limit.until) return c.yellow(`${head}: no agent starts until ${formatClock(limit.until)}, its reset (in ${formatDuration(Date.parse(limit.until) - now)}; --max-wait ${formatDuration(maxWaitMs)})`);
  const when = limit.resetsAt ? `it resets at ${formatClock(limit.resetsAt)} (in ${formatDuration(Date.parse(limit.resetsAt) - now)}), past --max-wait ${formatDuration(maxWaitMs)}` : 'it names no reset time';
  return c.yellow(`${head}: ${when}. No agent starts any more; the running ones finish.`);
}

/** Under the live table while a usage limit holds every start: the countdown. */
export function waitingLine(until: number, now = Date.now()): string {
  return c.yellow(`usage limit: agents start again at ${formatClock(until)} (in ${formatDuration(Math.max(0, until - now))})`);
}

/** `ptg run --dry-run`: the plan, one experiment a block. */
export function dryRunLines(d: ReturnType<typeof dryRunOf>): string[] {
  const lines = [
    `Dry run: ${d.resume ? 'resuming' : 'would run'} ${d.version} (${d.versionHash.slice(0, 12)}) as run ${d.runId}: ${d.experiments.length} experiment(s), ${d.concurrency} at a time; nothing was started or written.`,
    `  agent      ${d.agent.path}${d.agent.version ? ` ${d.agent.version}` : ''}`,
    `  timeout    ${d.timeoutMs ? formatDuration(d.timeoutMs) : 'none'} · idle timeout ${d.idleTimeoutMs ? formatDuration(d.idleTimeoutMs) : 'none'}`,
    `  budget     ${d.maxCostUsd === undefined ? 'none' : `${money(d.maxCostUsd)} for the run`} · retries ${d.retries ?? 0} · usage limits waited out up to ${formatDuration(d.maxWaitMs)}`,
    `  sandbox    ${sandboxText(d.sandbox)}`,
    `  env        ${d.agent.env.length ? `${d.agent.env.join(', ')} (names only)` : 'ptg\'s own, nothing added'}`,
  ];
  lines.push(`  checks     ${d.checks.join(', ') || 'none'} (${d.checkConcurrency} at once)`);
  if (d.models) lines.push(`  models     ${d.models.join(', ')}`);
  if (d.sequential) lines.push(`  sequential carrying ${d.sequential.carry.join(', ') || 'nothing'}${d.sequential.carryFrom ? ` from ${d.sequential.carryFrom}` : ''}`);
  if (d.artifacts) lines.push(`  artifacts  ${d.artifacts.join(', ')}`);
  for (const e of d.experiments) {
    lines.push('', `[STP ${experimentLabel(e.stp, e.model, e.repeat)}] in ${e.slot} → ${e.dir}`, `  $ ${e.argv.join(' ')} < prompt (sha256 ${e.promptSha256.slice(0, 12)})`);
    for (const line of e.prompt) lines.push(`  | ${line}`);
  }
  return lines;
}
