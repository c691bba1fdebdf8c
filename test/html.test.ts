// The HTML report and comparison: checked as strings, then in Debian's chromium through
// playwright-core (skipped, with the reason, when chromium is not installed).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { compareReports } from '../src/core/reports/compare.js';
import { checkNames, type Report, type ReportExperiment, repeatsOf, statusText, totalsOf } from '../src/core/reports/report.js';
import { readTranscript } from '../src/core/reports/transcript.js';
import { comparisonHtml, reportHtml, transcriptHtml } from '../src/render/html.js';

const EVIL = 'tests/test_<script>alert("x")</script>&.py';

function experiment(stp: string, status: ReportExperiment['status'], extra: Partial<ReportExperiment> = {}): ReportExperiment {
  return {
    stp,
    status,
    statusText: statusText(status, extra.exitCode),
    statusLine: `[STP ${stp}] ${status}`,
    testFiles: [`tests/test_stp_${stp}.py`],
    changedFiles: [{ status: 'A', path: `tests/test_stp_${stp}.py` }],
    artifacts: [],
    masked: [],
    retries: [],
    pyright: { errors: 2, warnings: 1 },
    checks: { pyright: { passed: false, count: 2, durationMs: 900 }, 'pytest-collect': { passed: true, count: 3, durationMs: 700 } },
    durationMs: 95_000,
    turns: 12,
    costUsd: 0.4321,
    baseCommit: 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2',
    folder: `experiments/v1_experiment_x/${stp}-repo`,
    logTail: ['starting', `writing ${stp}`, 'done'],
    ...extra,
  };
}

function report(runId: string, experiments: ReportExperiment[], extra: Partial<Report> = {}): Report {
  return {
    format: 1,
    version: 'v1',
    kind: 'monolithic',
    runId,
    date: '2026-02-09T14:30:22.000Z',
    ptgVersion: '0.1.0',
    agent: { command: 'claude', version: '2.1.197' },
    model: 'claude-opus-4-8',
    // A repository URL shown as text is fine; the page must never load it.
    repo: 'https://github.com/example/upstream.git',
    baseCommits: ['a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2'],
    sandboxes: ['bwrap 0.8.0'],
    runState: 'finished',
    experiments,
    checks: checkNames(experiments),
    totals: totalsOf(experiments),
    repeats: repeatsOf(experiments),
    ...extra,
  };
}

const first = report('20260209_143022', [
  experiment('1', 'succeeded'),
  experiment('2', 'failed', { exitCode: 3, agentError: 'API error: <overloaded> & "retry"', durationMs: 310_000, costUsd: 1.87, turns: 40, pyright: { errors: 14, warnings: 0 } }),
  experiment('3<b>', 'succeeded', { testFiles: [EVIL], changedFiles: [{ status: 'A', path: EVIL }], logTail: ['<img src=x onerror=alert(1)>', 'a && b', "it's \"quoted\""] }),
  experiment('4', 'running', { durationMs: undefined, costUsd: undefined, turns: undefined, pyright: undefined }),
], { runState: 'stale' });
const second = report('20260210_090000', [
  experiment('1', 'succeeded', { durationMs: 60_000, costUsd: 0.2 }),
  experiment('2', 'timed_out', { durationMs: 1_800_000 }),
  experiment('4', 'succeeded', { pyright: { errors: 0, warnings: 0 } }),
], { version: 'v2', kind: 'orchestrated' });
const comparison = compareReports([first, second], (a, b) => a.localeCompare(b, 'en', { numeric: true }));

/** Every `<svg class="chart">` by metric, with the data-stp (and data-run) of each bar. */
function bars(html: string): Map<string, string[]> {
  const charts = new Map<string, string[]>();
  for (const [svg, metric] of html.matchAll(/<svg class="chart" data-metric="(\w+)"[\s\S]*?<\/svg>/g)) {
    charts.set(metric!, [...svg.matchAll(/<rect class="bar[^"]*" data-stp="([^"]*)"(?: data-run="([^"]*)")?/g)].map((m) => (m[2] ? `${m[1]}@${m[2]}` : m[1]!)));
  }
  return charts;
}

function assertSelfContained(html: string) {
  assert.doesNotMatch(html, /<(script|link|img|iframe|object|embed)\b/i, 'no elements that load anything');
  assert.doesNotMatch(html, /url\(|@import/i, 'no CSS loads');
  // Links go to anchors or to files beside the page in the results folder (transcripts, artifacts): a link loads nothing.
  for (const [, href] of html.matchAll(/\bhref\s*=\s*"([^"]*)"/gi)) assert.match(href!, /^(#|(?![a-z][\w+.-]*:)(?!\/)[^:]*$)/i, `href to ${href}`);
  // URLs may appear as escaped text (the repository), never inside a tag.
  for (const [tag] of html.matchAll(/<[^>]*>/g)) assert.doesNotMatch(tag, /\/\/|https?:|\bsrc\s*=/i, tag);
  assert.match(html, /<meta name="viewport"/);
}

const esc = (s: string) => s.replace(/&/g, '&#38;').replace(/</g, '&#60;').replace(/>/g, '&#62;').replace(/"/g, '&#34;').replace(/'/g, '&#39;');

describe('reportHtml', () => {
  const html = reportHtml(first);

  test('is self-contained: no script, no external reference', () => assertSelfContained(html));

  test('escapes STP ids, file names, errors and log lines', () => {
    assert.ok(html.includes(esc(EVIL)));
    assert.ok(html.includes(esc('<img src=x onerror=alert(1)>')));
    assert.ok(html.includes(esc('API error: <overloaded> & "retry"')));
    assert.ok(html.includes('data-stp="3&#60;b&#62;"'));
    assert.ok(!html.includes('<b>') && !html.includes('<overloaded>'));
  });

  test('one bar per experiment in each of the three charts, and one per check in the checks chart', () => {
    const charts = bars(html);
    assert.deepEqual([...charts.keys()], ['duration', 'cost', 'pyright', 'checks']);
    for (const key of ['duration', 'cost', 'pyright']) assert.deepEqual(charts.get(key), ['1', '2', '3&#60;b&#62;', '4']);
    assert.match(html, /data-check="pytest-collect"/);
    assert.match(html, /<th class="n">pyright<\/th><th class="n">pytest-collect<\/th>/);
    assert.match(html, /<td class="n">0\/4 passed<\/td><td class="n">4\/4 passed<\/td>/);
  });

  test('header, totals, run state and details', () => {
    assert.match(html, /run ended without finishing/);
    assert.match(html, /2\/4 succeeded/);
    assert.match(html, /\$2\.73/);
    assert.match(html, /failed \(exit 3\)/);
    assert.equal(html.match(/<details /g)?.length, 4);
    assert.doesNotMatch(html, /Repeats/);
    assert.match(reportHtml({ ...first, runState: 'running' }), /run in progress/);
  });

  test('repeats: bars labelled "3 r2", a repeats table', () => {
    const exps = [experiment('3', 'succeeded', { repeat: 1 }), experiment('3', 'failed', { repeat: 2, exitCode: 1 })];
    const page = reportHtml(report('r', exps));
    assert.match(page, /<table class="repeats">/);
    assert.deepEqual(bars(page).get('cost'), ['3 r1', '3 r2']);
  });
});

describe('comparisonHtml', () => {
  const html = comparisonHtml(comparison);

  test('is self-contained and escapes', () => {
    assertSelfContained(html);
    assert.ok(html.includes('3&#60;b&#62;') && !html.includes('<b>'));
  });

  test('one bar per STP per run, none for a missing cell', () => {
    const [a, b] = comparison.runs.map((r) => r.label);
    const expected = [`1@${a}`, `1@${b}`, `2@${a}`, `2@${b}`, `3&#60;b&#62;@${a}`, `4@${a}`, `4@${b}`];
    for (const list of bars(html).values()) assert.deepEqual(list, expected);
  });

  test('aggregates and gaps', () => {
    assert.match(html, /50% \(2\/4\)/);
    assert.match(html, /67% \(2\/3\)/);
    assert.match(html, /Median duration/);
    assert.equal(html.match(/class="g muted">—/g)?.length, 1, 'STP 3 is missing from the second run');
  });
});

function chromiumPath(): string | undefined {
  if (fs.existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Opens a page from disk in a desktop-sized viewport, noting every request it makes. */
async function open(browser: import('playwright-core').Browser, file: string) {
  const url = pathToFileURL(file).href;
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url);
  await page.waitForLoadState('networkidle');
  return { page, url, requests };
}

test('in chromium: no request but the file, charts drawn, no sideways scroll on a phone', { timeout: 15_000 }, async (t) => {
  const executablePath = chromiumPath();
  if (!executablePath) return t.skip('chromium not installed: apt-get install chromium');
  const { chromium } = await import('playwright-core');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptg-html-'));
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const pages = [
      { name: 'report', html: reportHtml(first), table: 'table.overview', perChart: 4 },
      { name: 'compare', html: comparisonHtml(comparison), table: 'table.comparison', perChart: 7 },
    ];
    for (const p of pages) {
      const file = path.join(dir, `${p.name}.html`);
      fs.writeFileSync(file, p.html);
      const { page, url, requests } = await open(browser, file);
      assert.deepEqual(requests, [url], `${p.name}: only the file itself is loaded`);
      assert.ok(await page.locator(p.table).isVisible(), `${p.name}: table visible`);
      for (const metric of ['duration', 'cost', 'pyright']) {
        const box = await page.locator(`svg.chart[data-metric=${metric}]`).boundingBox();
        assert.ok(box && box.width > 100 && box.height > 20, `${p.name} ${metric} chart size ${JSON.stringify(box)}`);
        const n = await page.$$eval(`svg.chart[data-metric=${metric}] rect.bar`, (rects) => rects.length);
        assert.equal(n, p.perChart, `${p.name} ${metric} bars`);
      }
      await page.screenshot({ path: `/tmp/ptg-${p.name}.png`, fullPage: true });
      // Open every <details> so long log lines count too.
      await page.$$eval('details', (all) => all.forEach((d) => d.setAttribute('open', '')));
      await page.setViewportSize({ width: 375, height: 800 });
      const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(scrollWidth <= 376, `${p.name}: page scrolls sideways at 375 px (${scrollWidth})`);
      const chart = await page.locator('svg.chart[data-metric=duration]').boundingBox();
      assert.ok(chart && chart.width <= 375 && chart.width > 200, `${p.name}: chart fits a phone ${JSON.stringify(chart)}`);
      await page.screenshot({ path: `/tmp/ptg-${p.name}-375.png`, fullPage: true });
      await page.close();
    }
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('in chromium: a transcript page loads no request but the file itself, and reads on a phone', { timeout: 15_000 }, async (t) => {
  const executablePath = chromiumPath();
  if (!executablePath) return t.skip('chromium not installed: apt-get install chromium');
  // Real Claude Code output, with a hostile tool call and a cut, so the banner's link to claude.jsonl is on the page too.
  const transcript = await readTranscript(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'claude-2.1.197-success.jsonl'));
  transcript.entries.push({ kind: 'tool', tool: 'Bash', arg: '<img src=x onerror=alert(1)>', result: `<script>alert(1)</script>\n${'a long line '.repeat(80)}`, isError: true });
  transcript.cut = { readBytes: 2_000_000, totalBytes: 9_000_000 };
  const html = transcriptHtml(transcript, 'v1 20260209_143022 · STP 1');
  assertSelfContained(html);
  assert.ok(html.includes(esc('<img src=x onerror=alert(1)>')) && !html.includes('<script>'));

  const { chromium } = await import('playwright-core');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptg-html-'));
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const file = path.join(dir, 'transcript.html');
    fs.writeFileSync(file, html);
    const { page, url, requests } = await open(browser, file);
    assert.deepEqual(requests, [url], 'only the file itself is loaded, not the claude.jsonl it links to');
    assert.ok(await page.getByText('Cut after 2.0 of 9.0 MB').isVisible(), 'the cut is said');
    const calls = transcript.entries.filter((e) => e.kind === 'tool' && e.result !== undefined).length;
    assert.equal(await page.locator('details').count(), calls, 'one <details> per tool call with a result');
    await page.$$eval('details', (all) => all.forEach((d) => d.setAttribute('open', '')));
    await page.setViewportSize({ width: 375, height: 800 });
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scrollWidth <= 376, `the page scrolls sideways at 375 px (${scrollWidth})`);
    await page.screenshot({ path: '/tmp/ptg-transcript-375.png', fullPage: true });
    await page.close();
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
