import type { ComparedMetric, Comparison } from '../core/reports/compare.js';
import { formatDuration } from '../core/root/duration.js';
import { modelMismatch, type Report, type ReportExperiment, type ReportStatus } from '../core/reports/report.js';
import type { CheckResult } from '../core/workspace/check-results.js';
import type { Transcript } from '../core/reports/transcript.js';
import { experimentLabel, stpFolder } from '../core/workspace/experiment-folder.js';
import { maskedText } from './markdown.js';
import { checkCell, money } from './run.js';
import { formatValue, intervalText, leftOutText, letter, metricTitle, PER_RUN_INTRO, pairedIntro, pairedTable, pairedTitle, perRunTable, perStpTable, REGRESSIONS_NOTE, regressionsHeading, sampleSizeOfRun, stpChangeText, type TextTable, warningText } from './comparison.js';

// Written by hand: a page of tables and bar charts is a few template strings, and a chart
// library would bring JavaScript or external files a report opened from disk must not need.

const STATUS_COLOUR: Record<ReportStatus, string> = {
  succeeded: '#1a7f37',
  failed: '#cf222e',
  agent_error: '#a40e26',
  timed_out: '#bc4c00',
  interrupted: '#6e7781',
  skipped: '#9a6700',
  usage_limited: '#9a6700',
  running: '#0969da',
  unknown: '#8c959f',
};
const RUN_COLOUR = ['#0969da', '#bc4c00', '#8250df', '#1a7f37', '#bf3989', '#57606a'];

const CSS = `
*{box-sizing:border-box}
body{margin:0 auto;max-width:1200px;padding:16px;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#fff;overflow-wrap:anywhere}
h1{font-size:1.5em;margin:0 0 8px}h2{font-size:1.2em;margin:28px 0 8px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
.meta dt{color:#59636e}.meta dd{margin:0}
.banner{padding:8px 12px;margin:12px 0;border:1px solid #d4a72c;border-radius:6px;background:#fff8c5;font-weight:600}
.scroll{overflow-x:auto;max-width:100%;border:1px solid #d1d9e0;border-radius:6px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;width:100%}
th,td{overflow-wrap:normal;padding:5px 8px;text-align:left;white-space:nowrap;vertical-align:top;border-bottom:1px solid #d1d9e0}
th{background:#f6f8fa}.n{text-align:right}.g{border-left:2px solid #d1d9e0}.muted{color:#8c959f}
tfoot td{font-weight:600;background:#f6f8fa}
.k{position:sticky;left:0;background:#fff;border-right:2px solid #d1d9e0}th.k,tfoot .k{background:#f6f8fa;white-space:normal}
tbody tr:last-child td{border-bottom:2px solid #d1d9e0}
.pill{display:inline-block;padding:0 8px;border-radius:10px;color:#fff;font-size:.85em;white-space:nowrap}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(320px,100%),1fr));gap:16px}
figure{margin:0;min-width:0}figcaption{font-weight:600;margin-bottom:4px}
svg.chart{display:block;width:100%;height:auto}
svg.chart text{font-size:12px;fill:#1f2328;font-family:inherit}svg.chart line{stroke:#8c959f}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:4px 16px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
details{border:1px solid #d1d9e0;border-radius:6px;margin:8px 0;padding:6px 12px}
summary{cursor:pointer;font-weight:600}
details p{margin:6px 0}details ul{margin:4px 0;padding-left:20px}.error{color:#a40e26}
pre{overflow:auto;max-height:420px;background:#f6f8fa;padding:8px;border-radius:6px;overflow-wrap:normal}
${Object.entries(STATUS_COLOUR).map(([s, colour]) => `.pill.s-${s}{background:${colour}}rect.s-${s}{fill:${colour}}`).join('\n')}
${RUN_COLOUR.map((colour, i) => `rect.r${i}{fill:${colour}}.swatch.r${i}{background:${colour}}`).join('\n')}
rect.faded{fill-opacity:.4}
`;

/** Escapes text for element content and double- or single-quoted attributes. */
function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body>
${body}
</body></html>
`;
}

function wrap(table: string): string {
  return `<div class="scroll">${table}</div>`;
}

function pill(status: ReportStatus, text: string): string {
  return `<span class="pill s-${status}">${esc(text)}</span>`;
}

function num(value: number | undefined, sd?: number): string {
  if (value === undefined) return '—';
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
  return sd === undefined ? fmt(value) : `${fmt(value)} ± ${fmt(sd)}`;
}

function label(e: Pick<ReportExperiment, 'stp' | 'repeat' | 'requestedModel'>): string {
  return experimentLabel(e.stp, e.requestedModel, e.repeat);
}

const METRICS = [
  { key: 'duration', title: 'Duration', of: (e: ReportExperiment) => e.durationMs, fmt: formatDuration },
  { key: 'cost', title: 'Cost', of: (e: ReportExperiment) => e.costUsd, fmt: money },
  { key: 'pyright', title: 'Pyright errors', of: (e: ReportExperiment) => e.pyright?.errors, fmt: String },
] as const;

interface Bar {
  value?: number;
  cls: string;
  data: Record<string, string>;
  tip: string;
}

/** A horizontal bar chart; an undefined bar keeps its place in the group but draws nothing. */
function barChart(metric: string, title: string, groups: { label: string; bars: (Bar | undefined)[] }[], fmt: (v: number) => string): string {
  const W = 400, LEFT = 72, RIGHT = 62, H = 16, GAP = 8;
  const max = Math.max(0, ...groups.flatMap((g) => g.bars.map((b) => b?.value ?? 0))) || 1;
  const scale = (W - LEFT - RIGHT - 8) / max;
  const parts: string[] = [];
  let y = 4;
  for (const g of groups) {
    const top = y;
    for (const b of g.bars) {
      if (b) {
        const w = b.value ? Math.max(b.value * scale, 1) : 0;
        const data = Object.entries(b.data).map(([k, v]) => ` data-${k}="${esc(v)}"`).join('');
        parts.push(`<rect class="bar ${b.cls}"${data} x="${LEFT + 4}" y="${y}" width="${w.toFixed(1)}" height="${H}"><title>${esc(b.tip)}</title></rect>`);
        parts.push(`<text x="${(LEFT + 8 + w).toFixed(1)}" y="${y + H - 4}">${esc(b.value === undefined ? '—' : fmt(b.value))}</text>`);
      }
      y += H + 2;
    }
    const text = g.label.length > 11 ? `${g.label.slice(0, 10)}…` : g.label;
    parts.push(`<text x="${LEFT}" y="${(top + y - 2) / 2 + 4}" text-anchor="end">${esc(text)}<title>${esc(g.label)}</title></text>`);
    y += GAP - 2;
  }
  const height = Math.max(y, 24);
  return `<figure><figcaption>${esc(title)}</figcaption><svg class="chart" data-metric="${metric}" viewBox="0 0 ${W} ${height}" role="img" aria-label="${esc(title)}">`
    + `<line x1="${LEFT + 4}" x2="${LEFT + 4}" y1="0" y2="${height}"/>${parts.join('')}</svg></figure>`;
}

function testFiles(files: string[]): string {
  return files.length ? files.map((f) => `<code>${esc(f)}</code>`).join('<br>') : '<span class="muted">—</span>';
}

/** A check's cell; why it could not run, or what failed, on hover. */
function check(c: CheckResult | undefined): string {
  const why = c?.error ? `could not run: ${c.error}` : c?.detail;
  return `<span${c?.passed === false ? ' class="error"' : ''}${why ? ` title="${esc(why)}"` : ''}>${esc(checkCell(c))}</span>`;
}

function checkList(e: ReportExperiment): string {
  const items = Object.entries(e.checks).map(([name, c]) => `<li><code>${esc(name)}</code> ${check(c)}${c.error ? ` <span class="muted">could not run: ${esc(c.error)}</span>` : c.detail ? ` ${esc(c.detail)}` : ''}</li>`);
  if (items.length === 0) return '';
  return `<p>Checks${e.verifiedAt ? ` <span class="muted">(run again by ptg verify on ${esc(e.verifiedAt.replace('T', ' ').replace(/\..*/, ''))}; the run's own are kept in status.json)</span>` : ''}:</p><ul>${items.join('')}</ul>`;
}

const RUN_STATE: Record<Report['runState'], string | undefined> = {
  finished: undefined,
  running: 'run in progress',
  stale: 'run ended without finishing',
  interrupted: 'run interrupted',
  usage_limited: 'run stopped at the usage limit (resume it after the reset)',
};

function experimentDetails(e: ReportExperiment, i: number): string {
  const tests = new Set(e.testFiles);
  const files = e.changedFiles.length
    ? `<ul>${e.changedFiles.map((f) => `<li><code>${esc(f.status)}</code> <code>${esc(f.path)}</code>${tests.has(f.path) ? ' <span class="muted">(test)</span>' : ''}</li>`).join('')}</ul>`
    : '<p class="muted">No files changed.</p>';
  const tokens = e.tokens ? ` · tokens in ${e.tokens.input}, out ${e.tokens.output}, cache read ${e.tokens.cacheRead}, cache write ${e.tokens.cacheCreation}` : '';
  return `<details id="exp-${i}"><summary>STP ${esc(label(e))} ${pill(e.status, e.statusText)}</summary>
<p><code>${esc(e.statusLine)}</code></p>
${e.agentError ? `<p class="error">Agent error: ${esc(e.agentError)}</p>` : ''}
${e.requestedModel ? `<p${modelMismatch(e) ? ' class="error"' : ''}>Model asked for <code>${esc(e.requestedModel)}</code>; the agent reported <code>${esc(e.model ?? 'nothing')}</code>${modelMismatch(e) ? ': not the one asked for' : ''}.</p>` : ''}
<p>Folder <code>${esc(e.folder)}</code> · base <code>${esc(e.baseCommit.slice(0, 12))}</code>${e.model ? ` · ${esc(e.model)}` : ''}${esc(tokens)}</p>
${checkList(e)}
<p><a href="${esc(`${stpFolder(e)}/transcript.html`)}">Transcript</a>: what the agent did, turn by turn.</p>
<p>Generated or changed files:</p>${files}
${e.artifacts.length ? `<p>Artifacts:</p><ul>${e.artifacts.map((a) => `<li><a href="${esc(encodeURI(`${stpFolder(e)}/artifacts/${a}`))}"><code>${esc(a)}</code></a></li>`).join('')}</ul>` : ''}
${e.masked.length ? `<p class="error">Secrets masked: ${esc(maskedText(e.masked))}</p>` : ''}
${e.retries.length ? `<p>Attempts: ${e.retries.length + 1} (${esc(e.retries.map((r) => `attempt ${r.attempt}: ${r.reason}, ${money(r.costUsd)}`).join('; '))}); cost and tokens count all of them.</p>` : ''}
<p>Last ${e.logTail.length} log lines:</p><pre>${esc(e.logTail.join('\n')) || '<span class="muted">(empty log)</span>'}</pre></details>`;
}

/** One experiment's transcript as a page of its own: no script, `<details>` for the long parts. */
export function transcriptHtml(t: Transcript, title: string): string {
  const seen = new Set<string>();
  const body = t.entries.map((e) => {
    if (e.kind === 'init') return `<p class="muted">init · model ${esc(e.model ?? '?')} · session ${esc(e.sessionId ?? '?')} · ${e.tools} tools</p>`;
    if (e.kind === 'text') {
      const tokens = e.tokens && e.messageId && !seen.has(e.messageId) ? ` <span class="muted">(${e.tokens.input} in, ${e.tokens.output} out)</span>` : '';
      if (e.messageId) seen.add(e.messageId);
      return `<p>${esc(e.text)}${tokens}</p>`;
    }
    if (e.kind === 'tool') {
      const head = `→ <b>${esc(e.tool)}</b>${e.arg ? ` <code>${esc(e.arg)}</code>` : ''}`;
      if (e.result === undefined) return `<p>${head}</p>`;
      const [first = '', ...rest] = e.result.split('\n');
      return `<details${e.isError ? ' class="error"' : ''}><summary>${head} <span class="muted">← ${esc(first.slice(0, 120))}${rest.length ? ` (+${rest.length} lines)` : ''}</span></summary><pre>${esc(e.result)}</pre></details>`;
    }
    const head = `result: ${e.isError ? 'error' : 'success'}${e.subtype && e.subtype !== 'success' ? ` (${e.subtype})` : ''} · ${e.turns ?? '?'} turns · ${money(e.costUsd)} · ${formatDuration(e.durationMs)}`;
    return `<h2${e.isError ? ' class="error"' : ''}>${esc(head)}</h2>${e.text ? `<pre>${esc(e.text)}</pre>` : ''}`;
  });
  const s = t.summary;
  const list = (title: string, items: string[]) => (items.length ? `<p>${esc(title)}:</p><ul>${items.map((i) => `<li><code>${esc(i)}</code></li>`).join('')}</ul>` : '');
  const summary = `<h2>Summary</h2><p>Tool calls: ${Object.entries(s.tools).map(([tool, n]) => `${esc(tool)} ${n}`).join(' · ') || 'none'}</p>`
    + list('Files read', s.filesRead) + list('Files written', s.filesWritten) + list('Commands run', s.commands)
    + (s.firstError ? `<p class="error">First error: ${esc(s.firstError)}</p>` : '');
  const cut = t.cut ? `<p class="banner">Cut after ${(t.cut.readBytes / 1e6).toFixed(1)} of ${(t.cut.totalBytes / 1e6).toFixed(1)} MB of output, to keep this page small; the summary counts what came before. The whole of it: <a href="claude.jsonl">claude.jsonl</a>.</p>` : '';
  return page(title, `<h1>${esc(title)}</h1>${cut}${summary}<h2>Turns</h2>\n${body.join('\n')}\n<p class="muted">Raw output: <a href="claude.jsonl">claude.jsonl</a> · <a href="claude.log">claude.log</a></p>`);
}

/** The run's report as one self-contained HTML page: no script, no external file. */
export function reportHtml(report: Report): string {
  const r = report;
  const t = r.totals;
  const meta: [string, string][] = [
    ['Version', `${r.version} (${r.kind})`],
    ['Run id', r.runId],
    ['Date', r.date.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC')],
    ['ptg', r.ptgVersion],
    ['Agent', `${r.agent.command} ${r.agent.version}`],
    ['Model', r.model ?? '—'],
    ['Repository', r.repo],
    [r.baseCommits.length > 1 ? 'Base commits' : 'Base commit', r.baseCommits.join(', ') || '—'],
    ['Sandbox', r.sandboxes.join(', ') || '—'],
  ];
  const rows = r.experiments.map((e, i) => `<tr><td><a href="#exp-${i}">${esc(label(e))}</a></td><td>${pill(e.status, e.statusText)}</td><td>${testFiles(e.testFiles)}</td>`
    + `${r.checks.map((name) => `<td class="n">${check(e.checks[name])}</td>`).join('')}<td class="n">${formatDuration(e.durationMs)}</td><td class="n">${e.turns ?? '—'}</td><td class="n">${money(e.costUsd)}</td></tr>`);
  const overview = `<table class="overview"><thead><tr><th>STP</th><th>Status</th><th>Test file(s)</th>${r.checks.map((name) => `<th class="n">${esc(name)}</th>`).join('')}<th class="n">Duration</th><th class="n">Turns</th><th class="n">Cost</th></tr></thead>
<tbody>${rows.join('\n')}</tbody>
<tfoot><tr><td>Total</td><td>${t.succeeded}/${t.experiments} succeeded</td><td></td>${r.checks.map((name) => `<td class="n">${t.checks[name]!.passed}/${t.checks[name]!.passed + t.checks[name]!.failed} passed</td>`).join('')}<td class="n">${formatDuration(t.medianDurationMs)} <span class="muted">median</span></td><td class="n">${t.turns}</td><td class="n">${money(t.costUsd)}</td></tr></tfoot></table>`;
  const charts = METRICS.map((m) => barChart(m.key, m.title, r.experiments.map((e) => ({
    label: label(e),
    bars: [{ value: m.of(e), cls: `s-${e.status}`, data: { stp: label(e) }, tip: `STP ${label(e)} · ${e.statusText} · ${m.of(e) === undefined ? '—' : m.fmt(m.of(e)!)}` }],
  })), m.fmt));
  if (r.checks.length) {
    charts.push(barChart('checks', `Checks passed (of ${t.experiments})`, r.checks.map((name) => ({
      label: name,
      bars: [{ value: t.checks[name]!.passed, cls: 's-succeeded', data: { check: name }, tip: `${name}: ${t.checks[name]!.passed} passed, ${t.checks[name]!.failed} failed, ${t.checks[name]!.notRun} could not run` }],
    })), String));
  }
  const repeats = r.repeats && `<h2>Repeats</h2>${wrap(`<table class="repeats"><thead><tr><th>STP</th><th class="n">Runs</th><th class="n">Succeeded</th><th class="n">Pyright errors</th><th class="n">Duration</th><th class="n">Mean cost</th></tr></thead><tbody>`
    + r.repeats.map((a) => `<tr><td>${esc(a.stp)}</td><td class="n">${a.runs}</td><td class="n">${a.succeeded}/${a.runs}</td><td class="n">${num(a.meanPyrightErrors, a.sdPyrightErrors)}</td>`
      + `<td class="n">${formatDuration(a.meanDurationMs)}${a.sdDurationMs === undefined ? '' : ` ± ${formatDuration(a.sdDurationMs)}`}</td><td class="n">${money(a.meanCostUsd)}</td></tr>`).join('\n')
    + '</tbody></table>')}`;
  const files = r.carried ?? [];
  const lines = (n: number | undefined) => (n === undefined ? '—' : String(n));
  const carry = files.length
    ? `<h2>Carried files</h2><p>${files.map((f) => `<a href="${esc(encodeURI(`carry/${f}`))}"><code>${esc(f)}</code></a>`).join(', ')}: handed from each experiment to the next; the links are the last ones. Lines received → left:</p>`
      + wrap(`<table><thead><tr><th>STP</th><th>Status</th>${files.map((f) => `<th class="n">${esc(f)}</th>`).join('')}</tr></thead><tbody>`
        + r.experiments.map((e) => `<tr><td>${esc(label(e))}</td><td>${pill(e.status, e.statusText)}</td>${files.map((f) => `<td class="n">${lines(e.carry?.received[f])} → ${lines(e.carry?.left[f])}</td>`).join('')}</tr>`).join('\n')
        + '</tbody></table>')
    : '';
  const state = RUN_STATE[r.runState];
  return page(`ptg ${r.version} ${r.runId}`, `<h1>ptg report · ${esc(r.version)} · ${esc(r.runId)}</h1>
${state ? `<p class="banner">${esc(state)}</p>` : ''}
<dl class="meta">${meta.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>
<h2>Experiments</h2>${wrap(overview)}
<h2>Charts</h2><div class="charts">${charts.join('\n')}</div>
${repeats ?? ''}
${carry}
<h2>Details</h2>
${r.experiments.map(experimentDetails).join('\n')}`);
}

/** A table of text cells (escaped); numbers and intervals right-aligned after the first column. */
function textTable(t: TextTable, cls: string): string {
  return wrap(`<table class="${cls}"><thead><tr>${t.head.map((h, i) => `<th${i ? ' class="n"' : ''}>${esc(h)}</th>`).join('')}</tr></thead>`
    + `<tbody>${t.rows.map((r) => `<tr>${r.map((v, i) => `<td${i ? ' class="n"' : ''}>${esc(v)}</td>`).join('')}</tr>`).join('\n')}</tbody></table>`);
}

/** `#rrggbb` between `from` (t = 0) and `to` (t = 1). */
function mix(from: string, to: string, t: number): string {
  const channel = (hex: string, k: number) => parseInt(hex.slice(1 + 2 * k, 3 + 2 * k), 16);
  return `#${[0, 1, 2].map((k) => Math.round(channel(from, k) + (channel(to, k) - channel(from, k)) * t).toString(16).padStart(2, '0')).join('')}`;
}

/**
 * One metric, one row per run: a dot at the rate or mean, a whisker over its 95% interval. Drawn
 * with presentation attributes rather than classes: the page's stylesheet belongs to both pages.
 */
function intervalChart(m: ComparedMetric, c: Comparison): string {
  const W = 400, LEFT = 30, RIGHT = 14, ROW = 22, TOP = 4;
  // Every metric is a rate, a count, a cost or a duration: none below zero. A t interval that
  // reaches below zero is drawn to the axis's start (the tables give its bound).
  const lo = 0;
  let hi = m.unit === 'rate' ? 1 : Math.max(0, ...m.runs.flatMap((i) => [i.high, i.estimate]).filter((v): v is number => v !== undefined));
  if (hi <= lo) hi = lo + 1;
  const x = (v: number) => (LEFT + ((Math.max(v, lo) - lo) / (hi - lo)) * (W - LEFT - RIGHT)).toFixed(1);
  const parts = m.runs.map((i, k) => {
    const y = TOP + k * ROW + ROW / 2;
    const colour = RUN_COLOUR[k % RUN_COLOUR.length]!;
    const tip = esc(`${letter(k)} ${c.runs[k]!.label}: ${intervalText(m, i)}${i.n ? `, n = ${i.n}` : ''}`);
    const label = `<text x="${LEFT - 8}" y="${y + 4}" text-anchor="end">${letter(k)}<title>${esc(c.runs[k]!.label)}</title></text>`;
    if (i.estimate === undefined) return `${label}<text x="${LEFT}" y="${y + 4}" fill="#59636e">no values</text>`;
    const whisker = i.low === undefined || i.high === undefined ? '' : `<line class="whisker" x1="${x(i.low)}" x2="${x(i.high)}" y1="${y}" y2="${y}" stroke="${colour}" stroke-width="2"/>`
      + `<line x1="${x(i.low)}" x2="${x(i.low)}" y1="${y - 5}" y2="${y + 5}" stroke="${colour}" stroke-width="2"/><line x1="${x(i.high)}" x2="${x(i.high)}" y1="${y - 5}" y2="${y + 5}" stroke="${colour}" stroke-width="2"/>`;
    return `${label}<g>${whisker}<circle class="estimate" data-run="${esc(c.runs[k]!.label)}" cx="${x(i.estimate)}" cy="${y}" r="4.5" fill="${colour}"/><title>${tip}</title></g>`;
  });
  const axis = TOP + m.runs.length * ROW + 4;
  const height = axis + 18;
  const title = `${metricTitle(m)} (${m.better} is better)`;
  return `<figure><figcaption>${esc(metricTitle(m))} <span class="muted">${m.better} is better</span></figcaption>`
    + `<svg class="ci" data-ci="${esc(m.key)}" viewBox="0 0 ${W} ${height}" style="display:block;width:100%;height:auto" role="img" aria-label="${esc(title)}">`
    + `<g font-size="12" fill="#1f2328">${parts.join('')}`
    + `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${axis}" y2="${axis}" stroke="#8c959f"/>`
    + `<text x="${LEFT}" y="${axis + 14}">${esc(formatValue(m, lo))}</text><text x="${W - RIGHT}" y="${axis + 14}" text-anchor="end">${esc(formatValue(m, hi))}</text></g></svg></figure>`;
}

/** STP × run: each cell the STP's successes over its repeats, green (all) to red (none); its status without repeats. */
function heatmap(c: Comparison): string {
  const cell = (stp: string, run: number, r: Comparison['stps'][number]['runs'][number]) => {
    if (r.experiments === 0) return '<td class="muted">—</td>';
    const list = c.rows.filter((row) => row.stp === stp).map((row) => row.cells[run]).filter((e): e is ReportExperiment => e !== undefined);
    const one = r.experiments === 1 ? list[0] : undefined;
    const colour = one ? STATUS_COLOUR[one.status] : r.ended ? mix(STATUS_COLOUR.failed, STATUS_COLOUR.succeeded, r.succeeded / r.ended) : STATUS_COLOUR.unknown;
    const tip = list.map((e) => `${label(e)}: ${e.statusText}`).join(', ');
    return `<td class="heat" data-stp="${esc(stp)}" data-run="${esc(c.runs[run]!.label)}" style="background:${colour};color:#fff;text-align:center" title="${esc(tip)}">${esc(one ? one.statusText : `${r.succeeded}/${r.experiments}`)}</td>`;
  };
  return wrap(`<table class="heatmap"><thead><tr><th>STP</th>${c.runs.map((r, i) => `<th title="${esc(r.label)}">${letter(i)}</th>`).join('')}</tr></thead>`
    + `<tbody>${c.stps.map((s) => `<tr><td>${esc(s.stp)}</td>${s.runs.map((r, i) => cell(s.stp, i, r)).join('')}</tr>`).join('\n')}</tbody></table>`);
}

/** Runs side by side as one self-contained HTML page: warnings, regressions, one row per STP (and repeat), the statistics and their charts. */
export function comparisonHtml(c: Comparison): string {
  const cols = ['Status', ...c.checks, 'Duration', 'Cost', 'Turns'];
  const cells = (e: ReportExperiment | undefined) => e
    ? `<td class="g">${pill(e.status, e.statusText)}</td>${c.checks.map((name) => `<td class="n">${check(e.checks[name])}</td>`).join('')}<td class="n">${formatDuration(e.durationMs)}</td><td class="n">${money(e.costUsd)}</td><td class="n">${e.turns ?? '—'}</td>`
    : `<td class="g muted">—</td>${'<td class="n muted">—</td>'.repeat(cols.length - 1)}`;
  const aggregates: [string, (a: Comparison['aggregates'][number]) => string][] = [
    ['Success rate', (a) => `${Math.round(a.successRate * 100)}% (${a.succeeded}/${a.experiments})`],
    ...c.checks.map((name): [string, (a: Comparison['aggregates'][number]) => string] => [`${name} passed`, (a) => (a.checks[name] ? `${a.checks[name]!.passed}/${a.checks[name]!.passed + a.checks[name]!.failed}` : '—')]),
    ['Total cost', (a) => money(a.costUsd)],
    ['Median duration', (a) => formatDuration(a.medianDurationMs)],
  ];
  const table = `<table class="comparison"><thead><tr><th class="k" rowspan="2">STP</th>${c.runs.map((r, i) => `<th class="g" colspan="${cols.length}">${letter(i)} · ${esc(r.label)}</th>`).join('')}</tr>
<tr>${c.runs.map(() => cols.map((h, i) => `<th class="${i ? 'n' : 'g'}">${esc(h)}</th>`).join('')).join('')}</tr></thead>
<tbody>${c.rows.map((row) => `<tr><td class="k">${esc(experimentLabel(row.stp, undefined, row.repeat))}</td>${row.cells.map(cells).join('')}</tr>`).join('\n')}</tbody>
<tfoot>${aggregates.map(([name, of]) => `<tr><td class="k">${esc(name)}</td>${c.aggregates.map((a) => `<td class="g" colspan="${cols.length}">${esc(of(a))}</td>`).join('')}</tr>`).join('\n')}</tfoot></table>`;
  const runs = `<table class="runs"><thead><tr><th>Run</th><th>Model</th><th>Agent version</th><th>Base commit</th><th>Version hash</th></tr></thead><tbody>${c.runs.map((r, i) =>
    `<tr><td><span class="swatch r${i % RUN_COLOUR.length}"></span>${letter(i)} · ${esc(r.label)}</td><td>${esc((r.reportedModels.length ? r.reportedModels.join(', ') : r.model) ?? '—')}</td><td>${esc(r.agentVersion || '—')}</td>`
    + `<td><code>${esc(r.baseCommits.map((h) => h.slice(0, 12)).join(', ') || '—')}</code></td><td><code>${esc(r.versionHash?.slice(0, 12) ?? '—')}</code></td></tr>`).join('')}</tbody></table>`;
  const warnings = c.warnings.map((w) => `<p class="banner warning">⚠ ${esc(warningText(w, c))}</p>`).join('\n');
  const regressions = c.runs.length > 1 ? `<h2>Regressions</h2>${c.runs.slice(1).map((_, k) => {
    const run = k + 1;
    const worse = c.regressions.filter((r) => r.run === run);
    const better = c.improvements.filter((r) => r.run === run);
    return `<p>${esc(regressionsHeading(c, run))}</p>${worse.length ? `<ul class="regressions">${worse.map((r) => `<li class="error">${esc(stpChangeText(r))}</li>`).join('')}</ul>` : ''}`
      + (better.length ? `<p>Better in ${letter(run)}: ${esc(better.map(stpChangeText).join(' · '))}.</p>` : '');
  }).join('')}<p class="muted">${esc(REGRESSIONS_NOTE)}</p>` : '';
  const left = leftOutText(c);
  const statistics = c.metrics.length ? `<h2>Statistics</h2><p>${esc(PER_RUN_INTRO)}</p>${textTable(perRunTable(c), 'per-run')}${left ? `<p class="muted">${esc(left)}</p>` : ''}
<div class="charts">${c.metrics.map((m) => intervalChart(m, c)).join('\n')}</div>
${c.runs.slice(1).map((_, k) => {
    const run = k + 1;
    const size = sampleSizeOfRun(c, run);
    const perStp = perStpTable(c, run);
    return `<h3>${esc(pairedTitle(run))}</h3><p>${esc(pairedIntro(run))}</p>${textTable(pairedTable(c, run), 'paired')}${size ? `<p>${esc(size)}</p>` : ''}`
      + (perStp ? `<p>Per STP, ${letter(run)} − ${letter(0)}:</p>${textTable(perStp, 'per-stp')}` : '');
  }).join('\n')}` : '';
  const legend = `<ul class="legend">${c.runs.map((r, i) => `<li><span class="swatch r${i % RUN_COLOUR.length}"></span>${letter(i)} · ${esc(r.label)}</li>`).join('')}<li class="muted">pale bar: not succeeded</li></ul>`;
  // A chart with no bar at all (pyright errors where no run had pyright) is left out.
  const charts = METRICS.filter((m) => c.rows.some((row) => row.cells.some((e) => e && m.of(e) !== undefined))).map((m) => barChart(m.key, m.title, c.rows.map((row) => {
    const stp = experimentLabel(row.stp, undefined, row.repeat);
    return {
      label: stp,
      bars: row.cells.map((e, i) => e && {
        value: m.of(e),
        cls: `r${i % RUN_COLOUR.length}${e.status === 'succeeded' ? '' : ' faded'}`,
        data: { stp, run: c.runs[i]!.label },
        tip: `STP ${stp} · ${c.runs[i]!.label} · ${e.statusText} · ${m.of(e) === undefined ? '—' : m.fmt(m.of(e)!)}`,
      }),
    };
  }), m.fmt));
  return page(`ptg comparison: ${c.runs.map((r) => r.label).join(' vs ')}`, `<h1>ptg comparison</h1>
<p>${c.runs.length} runs · ${c.stps.length} STPs</p>
${wrap(runs)}
${warnings}
${regressions}
<h2>Success per STP</h2><p class="muted">Each cell: the STP's successes over its repeats, green when all succeeded, red when none did (its status, without repeats).</p>${heatmap(c)}
<h2>Experiments</h2>${wrap(table)}
${statistics}
<h2>Per STP</h2>${legend}<div class="charts">${charts.join('\n')}</div>`);
}
