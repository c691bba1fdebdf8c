import type { Comparison } from '../core/reports/compare.js';
import { formatDuration } from '../core/root/duration.js';
import { modelMismatch, type Report, type ReportExperiment } from '../core/reports/report.js';
import { experimentLabel, stpFolder } from '../core/workspace/experiment-folder.js';
import type { MaskedFile } from '../core/workspace/manifest.js';
import { checkCell, money } from './run.js';
import { leftOutText, letter, PER_RUN_INTRO, pairedIntro, pairedTable, pairedTitle, perRunTable, perStpTable, REGRESSIONS_NOTE, regressionsHeading, runText, sampleSizeOfRun, stpChangeText, warningText } from './comparison.js';

/** `ARTIFACTORY_TOKEN in tests/x.py (slot) ×2, claude.jsonl`: where, never what. */
export function maskedText(masked: MaskedFile[]): string {
  return masked.map((m) => `${m.name} in ${m.file}${m.where === 'slot' ? ' (the agent wrote it in the slot)' : ''}${m.count > 1 ? ` ×${m.count}` : ''}`).join(', ');
}

/** A table cell: pipes and newlines would break the row. */
function cell(value: unknown): string {
  return String(value ?? '—').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function row(cells: unknown[]): string {
  return `| ${cells.map(cell).join(' | ')} |`;
}

function tableMd(head: string[], rows: unknown[][]): string[] {
  return [row(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(row)];
}

function label(e: Pick<ReportExperiment, 'stp' | 'repeat' | 'requestedModel'>): string {
  return experimentLabel(e.stp, e.requestedModel, e.repeat);
}

const RUN_STATE: Record<Report['runState'], string | undefined> = {
  running: '**Run in progress**: experiments not finished yet show as `running`.',
  stale: '**The run ended without finishing** (ptg was killed): experiments without a status show as `unknown`.',
  interrupted: '**The run was interrupted** (Ctrl-C).',
  usage_limited: '**The run stopped at the agent\'s usage limit**: experiments marked `usage limit` did not run; `ptg run <version> --resume <run>` runs them after the reset.',
  finished: undefined,
};

/** summary.md: header, overview with totals, then each STP with its files and log tail. */
export function summaryMarkdown(report: Report): string {
  const lines = [...headerLines(report), '', '## Overview', '', ...overviewTable(report)];
  if (report.repeats) lines.push('', '## Repeats', '', ...repeatsTable(report.repeats));
  if (report.carried?.length) lines.push('', ...carryMarkdown(report));
  for (const e of report.experiments) lines.push('', ...experimentLines(e));
  return `${lines.join('\n')}\n`;
}

function headerLines(report: Report): string[] {
  return [
    `# ptg report: ${report.version} · run ${report.runId}`,
    '',
    ...(RUN_STATE[report.runState] ? [RUN_STATE[report.runState]!, ''] : []),
    `- **Version:** ${report.version} (${report.kind})`,
    `- **Run:** ${report.runId}, started ${report.date}`,
    `- **ptg:** ${report.ptgVersion}`,
    `- **Agent:** ${report.agent.command} ${report.agent.version}`,
    `- **Model:** ${report.model ?? 'default'}`,
    `- **Target:** ${report.repo} at ${report.baseCommits.map((c) => c.slice(0, 12)).join(', ')}`,
    `- **Sandbox:** ${report.sandboxes.join(', ') || '—'}`,
  ];
}

function overviewTable(report: Report): string[] {
  const t = report.totals;
  return tableMd(
    ['STP', 'Status', 'Test file(s)', ...report.checks, 'Duration', 'Turns', 'Cost'],
    [
      ...report.experiments.map((e) => [
        label(e),
        e.statusText,
        e.testFiles.length ? e.testFiles.join(', ') : '—',
        ...report.checks.map((name) => checkCell(e.checks[name])),
        formatDuration(e.durationMs),
        e.turns,
        money(e.costUsd),
      ]),
      [
        '**Total**',
        `${t.succeeded}/${t.experiments} succeeded`,
        `${report.experiments.reduce((n, e) => n + e.testFiles.length, 0)} files`,
        ...report.checks.map((name) => `${t.checks[name]!.passed}/${t.checks[name]!.passed + t.checks[name]!.failed} passed`),
        `median ${formatDuration(t.medianDurationMs)}`,
        t.turns,
        money(t.costUsd),
      ],
    ],
  );
}

function repeatsTable(repeats: NonNullable<Report['repeats']>): string[] {
  return tableMd(
    ['STP', 'Runs', 'Succeeded', 'Pyright errors (mean ± sd)', 'Duration (mean ± sd)', 'Mean cost'],
    repeats.map((r) => [
      r.stp,
      r.runs,
      `${r.succeeded}/${r.runs}`,
      r.meanPyrightErrors === undefined ? '—' : `${r.meanPyrightErrors.toFixed(2)} ± ${(r.sdPyrightErrors ?? 0).toFixed(2)}`,
      r.meanDurationMs === undefined ? '—' : `${formatDuration(r.meanDurationMs)} ± ${formatDuration(r.sdDurationMs ?? 0)}`,
      money(r.meanCostUsd),
    ]),
  );
}

/** One STP's section: its status line, error, checks, model, files, artifacts, masking, attempts, log tail. */
function experimentLines(e: ReportExperiment): string[] {
  const lines = [`## STP ${label(e)}`, '', '`' + e.statusLine + '`', ''];
  if (e.agentError) lines.push(`Agent error: ${e.agentError.split('\n')[0]}`, '');
  const checks = checkLines(e);
  if (checks.length) lines.push(...checks, '');
  if (e.requestedModel) lines.push(`${modelMismatch(e) ? '⚠ ' : ''}Model asked for: \`${e.requestedModel}\`; the agent reported \`${e.model ?? 'nothing'}\`${modelMismatch(e) ? ': not the one asked for' : ''}.`, '');
  lines.push(e.changedFiles.length ? 'Files generated or changed:' : 'No files generated or changed.');
  for (const f of e.changedFiles) lines.push(`- \`${f.path}\` (${f.status === 'A' ? 'added' : f.status === 'D' ? 'deleted' : 'modified'})`);
  if (e.artifacts.length) {
    lines.push('', 'Artifacts:');
    for (const a of e.artifacts) lines.push(`- [\`${a}\`](${encodeURI(`${stpFolder(e)}/artifacts/${a}`)})`);
  }
  if (e.masked.length) lines.push('', `Secrets masked: ${maskedText(e.masked)}`);
  if (e.retries.length) lines.push('', `Attempts: ${e.retries.length + 1} (${e.retries.map((r) => `attempt ${r.attempt}: ${r.reason}, ${money(r.costUsd)}`).join('; ')}); cost and tokens count all of them.`);
  if (e.logTail.length) {
    lines.push('', `<details><summary>Last ${e.logTail.length} lines of claude.log</summary>`, '', '```text', ...e.logTail.map((l) => l.replace(/```/g, "'''")), '```', '', '</details>');
  }
  return lines;
}

/** `- pytest-collect ✗ 0: tests/test_x.py: ModuleNotFoundError …` per check; when verified, since when. */
export function checkLines(e: ReportExperiment): string[] {
  const lines = Object.entries(e.checks).map(([name, c]) => `- ${name} ${checkCell(c)}${c.error ? `: could not run: ${c.error}` : c.detail ? `: ${c.detail}` : ''}`);
  if (lines.length === 0) return [];
  return [`Checks${e.verifiedAt ? ` (run again by \`ptg verify\` on ${e.verifiedAt.replace('T', ' ').replace(/\..*/, '')}; the run's own are kept in status.json)` : ''}:`, ...lines];
}

/** A sequential run: what each step received and left of the carried files, and where the last ones are. */
function carryMarkdown(report: Report): string[] {
  const files = report.carried!;
  const count = (n: number | undefined) => (n === undefined ? '—' : `${n} line${n === 1 ? '' : 's'}`);
  const rows = report.experiments.map((e) => [
    label(e),
    e.statusText,
    ...files.flatMap((f) => [count(e.carry?.received[f]), count(e.carry?.left[f])]),
    e.carry && e.status !== 'succeeded' ? `passed on as the ${e.statusText} agent left it` : '',
  ]);
  return [
    '## Carried files',
    '',
    `${files.map((f) => `\`${f}\``).join(', ')}, handed from each experiment to the next in STP order. The last: ${files.map((f) => `[carry/${f}](${encodeURI(`carry/${f}`)})`).join(', ')}.`,
    '',
    ...tableMd(['STP', 'Status', ...files.flatMap((f) => [`${f} received`, 'left']), ''], rows),
  ];
}

/** The comparison as markdown: the runs, warnings, regressions, one row per STP (and repeat) with a column group per run, then the statistics. */
export function comparisonMarkdown(c: Comparison): string {
  const lines = [`# ptg comparison: ${c.runs.map((r) => r.label).join(' vs ')}`, '', ...c.runs.map((_, i) => `- **${letter(i)}**${i === 0 ? ' (the baseline)' : ''}: ${runText(c, i)}`)];
  if (c.warnings.length) lines.push('', ...c.warnings.flatMap((w, i) => [...(i ? ['>'] : []), `> ⚠ ${warningText(w, c)}`]));
  if (c.runs.length > 1) {
    lines.push('', '## Regressions', '');
    for (let run = 1; run < c.runs.length; run++) {
      lines.push(regressionsHeading(c, run));
      const worse = c.regressions.filter((r) => r.run === run);
      if (worse.length) lines.push('', ...worse.map((r) => `- ${stpChangeText(r)}`));
      const better = c.improvements.filter((r) => r.run === run);
      if (better.length) lines.push('', `Better in ${letter(run)}: ${better.map(stpChangeText).join(' · ')}.`);
      lines.push('');
    }
    lines.push(REGRESSIONS_NOTE);
  }

  const groups = c.runs.map((r) => [`${r.label} status`, ...c.checks, 'duration', 'cost', 'turns']);
  const width = groups[0]!.length;
  const rows: unknown[][] = c.rows.map((r) => [
    experimentLabel(r.stp, undefined, r.repeat),
    ...r.cells.flatMap((e) => (e ? [e.statusText, ...c.checks.map((name) => checkCell(e.checks[name])), formatDuration(e.durationMs), money(e.costUsd), e.turns ?? '—'] : Array(width).fill('—'))),
  ]);
  const agg = (name: string, fn: (a: Comparison['aggregates'][number]) => string) => [`**${name}**`, ...c.aggregates.flatMap((a) => [fn(a), ...Array(width - 1).fill('')])];
  rows.push(
    agg('Success rate', (a) => `${Math.round(a.successRate * 100)}% (${a.succeeded}/${a.experiments})`),
    ...c.checks.map((name) => agg(`${name} passed`, (a) => (a.checks[name] ? `${a.checks[name]!.passed}/${a.checks[name]!.passed + a.checks[name]!.failed}` : '—'))),
    agg('Total cost', (a) => money(a.costUsd)),
    agg('Median duration', (a) => formatDuration(a.medianDurationMs)),
  );
  lines.push('', '## Experiments', '', ...tableMd(['STP', ...groups.flat()], rows));

  if (c.metrics.length) {
    const perRun = perRunTable(c);
    lines.push('', '## Statistics', '', PER_RUN_INTRO, '', ...tableMd(perRun.head, perRun.rows));
    const left = leftOutText(c);
    if (left) lines.push('', left);
    for (let run = 1; run < c.runs.length; run++) {
      const paired = pairedTable(c, run);
      lines.push('', `### ${pairedTitle(run)}`, '', pairedIntro(run), '', ...tableMd(paired.head, paired.rows));
      const size = sampleSizeOfRun(c, run);
      if (size) lines.push('', size);
      const perStp = perStpTable(c, run);
      if (perStp) lines.push('', `Per STP, ${letter(run)} − ${letter(0)}:`, '', ...tableMd(perStp.head, perStp.rows));
    }
  }
  return `${lines.join('\n')}\n`;
}
