// ptg compare's statistics, warnings and CI gate (issue 13). Two runs of 6 STPs with --repeat 3 are
// built with the real CLI and the fake agent, their outcomes set by its directives; the intervals
// and p-values compare --json gives are checked against test/fixtures/compare-reference.py's
// (SciPy 1.17.1 and statsmodels 0.15.0, from the outcomes alone), within 1e-6.
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import fs from 'fs-extra';
import { compareReports, worseBeyondNoise } from '../src/core/reports/compare.js';
import { checkNames, type Report, type ReportExperiment, statusText, totalsOf } from '../src/core/reports/report.js';
import { compareIds } from '../src/core/root/root.js';
import { countDirections } from '../src/core/run/settings.js';
import { comparisonMarkdown } from '../src/render/markdown.js';
import { FAKE_AGENT, ptg, setUpWorkspace } from './support/fixtures.js';

function close(actual: number | undefined, expected: number, what: string, tolerance = 1e-6): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ${tolerance} of ${expected}`);
}

// A check of the user's: the TODO lines in the files the agent wrote are its count; it passes at none.
const TODO_CHECK = { name: 'todo', run: 'n=$(cat {files} | grep -c TODO); echo "todo $n"; test "$n" -eq 0', count: 'todo (\\d+)' };

interface Outcome {
  /** ok: every repeat succeeds; flaky: the first repeat fails (an API error, exit 1), the others succeed; fail: exit 3 every time. */
  outcome: 'ok' | 'flaky' | 'fail';
  todo: number;
  cost: string;
  turns: number;
}

function stpText(id: string, o: Outcome, extra = ''): string {
  const file = `x = 1\n${'# TODO\n'.repeat(o.todo)}`;
  return `# STP ${id}\nfake: write tests/test_${id}.py ${JSON.stringify(file)}\nfake: cost ${o.cost}\nfake: turns ${o.turns}\n`
    + `${o.outcome === 'flaky' ? 'fake: flaky 500\n' : o.outcome === 'fail' ? 'fake: exit 3\n' : ''}${extra}`;
}

// The outcomes compare-reference.py takes: per STP 1..6.
const A: Outcome[] = [
  { outcome: 'ok', todo: 0, cost: '0.10', turns: 4 },
  { outcome: 'ok', todo: 0, cost: '0.20', turns: 5 },
  { outcome: 'flaky', todo: 1, cost: '0.30', turns: 6 },
  { outcome: 'ok', todo: 2, cost: '0.40', turns: 7 },
  { outcome: 'fail', todo: 1, cost: '0.50', turns: 8 },
  { outcome: 'ok', todo: 0, cost: '0.60', turns: 9 },
];
// B costs more on every STP (by 1 to 6 cents: no ties), and sleeps: slower too.
const B: Outcome[] = [
  { outcome: 'ok', todo: 0, cost: '0.11', turns: 4 },
  { outcome: 'fail', todo: 2, cost: '0.22', turns: 6 },
  { outcome: 'ok', todo: 0, cost: '0.33', turns: 5 },
  { outcome: 'flaky', todo: 2, cost: '0.44', turns: 9 },
  { outcome: 'fail', todo: 3, cost: '0.55', turns: 8 },
  { outcome: 'flaky', todo: 1, cost: '0.66', turns: 12 },
];

type Json = any;

describe('ptg compare: two runs of 6 STPs with --repeat 3', () => {
  let w: Awaited<ReturnType<typeof setUpWorkspace>>;
  let json: Json;
  let markdown: string;

  before(async () => {
    w = await setUpWorkspace(Object.fromEntries(A.map((o, i) => [String(i + 1), stpText(String(i + 1), o)])), { checks: [TODO_CHECK] });
    // `fake: flaky` fails the first time in a slot, as the folder of FAKE_AGENT_RECORD remembers: one per run.
    const a = await w.run(['v1', '--repeat', '3', '--run-id', 'a'], { env: { FAKE_AGENT_RECORD: path.join(w.dir, 'record-a') } });
    assert.equal(a.code, 1, a.stderr);
    B.forEach((o, i) => fs.writeFileSync(path.join(w.root, 'stps', `${i + 1}.md`), stpText(String(i + 1), o, 'fake: sleep 400\n')));
    const b = await w.run(['v2', '--repeat', '3', '--run-id', 'b'], { env: { FAKE_AGENT_RECORD: path.join(w.dir, 'record-b') } });
    assert.equal(b.code, 1, b.stderr);
    const r = await ptg(['compare', 'v1@a', 'v2@b', '--json'], { cwd: w.root });
    assert.equal(r.code, 0, r.stderr);
    json = JSON.parse(r.stdout);
    markdown = fs.readFileSync(path.join(w.ws, 'comparison_v1@a_vs_v2@b.md'), 'utf8');
  });

  const metric = (key: string) => json.metrics.find((m: Json) => m.key === key);

  test('per run: n, the estimate and its 95% interval equal statsmodels (Wilson) and SciPy (t) within 1e-6', () => {
    assert.deepEqual(json.metrics.map((m: Json) => `${m.key} ${m.better}`), [
      'success higher', 'check:todo:passed higher', 'check:todo:count lower', 'cost lower', 'duration lower', 'turns lower',
    ]);
    // From compare-reference.py: [estimate, low, high] per run.
    const expected: Record<string, [number, number, number][]> = {
      success: [[14 / 18, 0.5478541568378739, 0.9099907189139833], [10 / 18, 0.33716415642042774, 0.7544048187299437]],
      'check:todo:passed': [[0.5, 0.29031021505169974, 0.7096897849483003], [6 / 18, 0.1627877475083369, 0.562505327040549]],
      'check:todo:count': [[0.6666666666666666, 0.28526395065640514, 1.048069382676928], [1.3333333333333333, 0.7676216842434377, 1.899044982423229]],
      cost: [[0.35, 0.2626096591810615, 0.43739034081893835], [0.385, 0.28887062509916767, 0.48112937490083235]],
      turns: [[6.5, 5.626096591810615, 7.373903408189385], [7.333333333333333, 5.958166284157105, 8.70850038250956]],
    };
    for (const [key, runs] of Object.entries(expected)) {
      runs.forEach(([estimate, low, high], i) => {
        const interval = metric(key).runs[i];
        assert.equal(interval.n, 18, `${key} n`);
        assert.equal(interval.method, metric(key).kind === 'rate' ? 'wilson' : 't');
        close(interval.estimate, estimate, `${key} run ${i} estimate`);
        close(interval.low, low, `${key} run ${i} low`);
        close(interval.high, high, `${key} run ${i} high`);
      });
    }
    assert.deepEqual(metric('success').runs.map((i: Json) => i.successes), [14, 10]);
    // Durations are the machine's: every experiment has one.
    assert.deepEqual(metric('duration').runs.map((i: Json) => [i.n, i.method, i.low <= i.estimate && i.estimate <= i.high]), [[18, 't', true], [18, 't', true]]);
  });

  test('B against A, paired by STP: the p-values of the sign and signed-rank tests equal SciPy within 1e-6', () => {
    // From compare-reference.py: the test's counts or V, the mean per-STP difference B − A, p.
    const success = metric('success').paired[0];
    assert.deepEqual([success.run, success.n, success.test, success.b, success.c, success.verdict], [1, 6, 'sign', 3, 1, 'no detectable difference']);
    close(success.pValue, 0.625, 'success p');
    close(success.meanDifference, -0.2222222222222222, 'success mean difference');
    assert.deepEqual(success.perStp.map((s: Json) => [s.stp, s.difference]), [['1', 0], ['2', -1], ['3', 0.333333333], ['4', -0.333333333], ['5', 0], ['6', -0.333333333]]);
    const passed = metric('check:todo:passed').paired[0];
    assert.deepEqual([passed.n, passed.b, passed.c, passed.verdict], [6, 2, 1, 'no detectable difference']);
    close(passed.pValue, 1, 'todo passed p');
    const cases: [string, number, boolean, number, number, string][] = [
      ['check:todo:count', 8.5, false, 0.6666666666666666, 0.26520539259150755, 'no detectable difference'],
      ['cost', 21, true, 0.035, 0.03125, 'worse'],
      ['turns', 8.5, false, 0.8333333333333334, 0.2692941367197367, 'no detectable difference'],
    ];
    for (const [key, statistic, exact, difference, p, verdict] of cases) {
      const paired = metric(key).paired[0];
      assert.deepEqual([paired.n, paired.test, paired.statistic, paired.exact, paired.verdict], [6, 'signed-rank', statistic, exact, verdict], key);
      close(paired.meanDifference, difference, `${key} mean difference`);
      close(paired.pValue, p, `${key} p`);
    }
    // Connor's n for a 20-point difference at the discordance of the 18 pairs (6 of them disagree): 62.997 -> 63.
    assert.deepEqual(success.sampleSize, { difference: 0.2, observedDiscordance: 6 / 18, discordance: 6 / 18, units: 18, pairs: 63 });
  });

  test('the markdown names the regressions first, then the table, then "no detectable difference with n = 6"', () => {
    assert.deepEqual(json.regressions.map((r: Json) => r.stp), ['2', '4', '6']);
    assert.deepEqual(json.improvements.map((r: Json) => r.stp), ['3']);
    assert.deepEqual(json.warnings, [], 'the same agent, model, base commit and context');
    assert.ok(markdown.indexOf('## Regressions') < markdown.indexOf('## Experiments'));
    assert.ok(markdown.indexOf('## Experiments') < markdown.indexOf('## Statistics'));
    assert.match(markdown, /^B against A: 3 STPs did worse \(succeeded, or passed a check, less often\):\n\n- STP 2: succeeded 3\/3 → 0\/3; todo passed 3\/3 → 0\/3\n- STP 4: succeeded 3\/3 → 2\/3\n- STP 6: succeeded 3\/3 → 2\/3; todo passed 3\/3 → 0\/3\n\nBetter in B: STP 3: succeeded 2\/3 → 3\/3; todo passed 0\/3 → 3\/3\.$/m);
    assert.match(markdown, /^\| STP \| v1@a status \| todo \| duration \| cost \| turns \| v2@b status \| todo \| duration \| cost \| turns \|$/m);
    assert.match(markdown, /^\| 3 r1 \| failed \(exit 1\) \| ✗ 1 \| [\d.]+s \| \$0\.3000 \| 6 \| succeeded \| ✓ 0 \| [\d.]+s \| \$0\.3300 \| 5 \|$/m);
    assert.match(markdown, /^\| \*\*todo passed\*\* \| 9\/18 \|/m);
    assert.match(markdown, /^\| Success \| higher \| 78% \(14\/18\) \[55%, 91%\] \| 56% \(10\/18\) \[34%, 75%\] \|$/m);
    assert.match(markdown, /^\| Success \| 6 \| −22 pp \| sign test: A higher in 3, B in 1 \| p = 0\.63 \| no detectable difference with n = 6 \|$/m);
    assert.match(markdown, /^\| Cost \| 6 \| \+\$0\.0350 \| signed-rank: V = 21, exact \| p = 0\.031 \| worse \|$/m);
    assert.match(markdown, /about 63 paired experiments .*; this comparison has 18\./);
    assert.match(markdown, /^\| 2 \| −100 pp \| −100 pp \| \+2 \| \+\$0\.0200 \|/m);
  });

  test('the HTML: a chart per metric with a dot and a whisker per run, an STP × run heatmap, nothing loaded', () => {
    const html = fs.readFileSync(path.join(w.ws, 'comparison_v1@a_vs_v2@b.html'), 'utf8');
    assert.doesNotMatch(html, /<(script|link|img|iframe)\b|url\(/i);
    const charts = [...html.matchAll(/<svg class="ci" data-ci="([^"]+)"[\s\S]*?<\/svg>/g)];
    assert.deepEqual(charts.map((m) => m[1]), json.metrics.map((m: Json) => m.key));
    for (const [svg] of charts) {
      assert.deepEqual([...svg.matchAll(/<circle class="estimate" data-run="([^"]+)"/g)].map((m) => m[1]), ['v1@a', 'v2@b']);
      assert.equal(svg.match(/<line class="whisker"/g)?.length, 2);
    }
    const heat = [...html.matchAll(/<td class="heat" data-stp="(\d)" data-run="([^"]+)"[^>]*>([^<]*)</g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    assert.deepEqual(heat, ['1 v1@a 3/3', '1 v2@b 3/3', '2 v1@a 3/3', '2 v2@b 0/3', '3 v1@a 2/3', '3 v2@b 3/3', '4 v1@a 3/3', '4 v2@b 2/3', '5 v1@a 0/3', '5 v2@b 0/3', '6 v1@a 3/3', '6 v2@b 2/3']);
  });

  test('--fail-on-regression: exit 1 and one line when B costs more beyond the noise; exit 0 the other way round', async () => {
    const gate = await ptg(['compare', 'v1@a', 'v2@b', '--fail-on-regression'], { cwd: w.root });
    assert.equal(gate.code, 1, gate.stderr);
    assert.match(gate.stderr, /^ptg: B \(v2@b\) is worse than A \(v1@a\) beyond the noise: .*Cost \(\+\$0\.0350 per STP, p = 0\.031\).*\.\n$/);
    assert.match(gate.stdout, /## Statistics/, 'the comparison is printed and written first');
    assert.ok(fs.existsSync(path.join(w.ws, 'comparison_v1@a_vs_v2@b.html')));
    // Reversed, B is the cheaper and faster run; STP 3 did worse, but not beyond the noise.
    const reversed = await ptg(['compare', 'v2@b', 'v1@a', '--fail-on-regression', '--json'], { cwd: w.root });
    assert.equal(reversed.code, 0, reversed.stderr);
    const back = JSON.parse(reversed.stdout);
    assert.deepEqual(back.regressions.map((r: Json) => r.stp), ['3']);
    assert.equal(back.metrics.find((m: Json) => m.key === 'cost').paired[0].verdict, 'better');
    const alone = await ptg(['compare', 'v1@a', '--fail-on-regression'], { cwd: w.root });
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /^ptg: --fail-on-regression needs two runs/);
  });

  test('another Claude Code release and another model: warned above the table; n = 2 is too few for any verdict', async () => {
    const agent = path.join(w.dir, 'newer-agent.sh');
    fs.writeFileSync(agent, `#!/bin/sh\nif [ "$1" = --version ]; then echo "9.9.9 (wrapped fake agent)"; exit 0; fi\nexec ${JSON.stringify(FAKE_AGENT)} "$@"\n`, { mode: 0o755 });
    const c = await ptg(['run', 'v2', '--stp', '1,3', '--model', 'other-model', '--run-id', 'c', '--agent', agent, '--sandbox-ro', path.dirname(FAKE_AGENT)], { cwd: w.root, env: { IS_SANDBOX: '1' } });
    assert.equal(c.code, 0, c.stderr);
    const r = await ptg(['compare', 'v1@a', 'v2@c', '--json'], { cwd: w.root });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.runs.map((x: Json) => x.label), ['v1@a', 'v2:other-model@c']);
    assert.deepEqual(out.warnings.map((x: Json) => [x.kind, x.a, x.b]), [
      ['agent-version', '0.0.1 (fake agent)', '9.9.9 (wrapped fake agent)'],
      ['model', 'fake-model-1', 'other-model'],
    ]);
    const md = fs.readFileSync(path.join(w.ws, 'comparison_v1@a_vs_v2_other-model@c.md'), 'utf8');
    assert.match(md, /^> ⚠ The agent differs: 0\.0\.1 \(fake agent\) in A, 9\.9\.9 \(wrapped fake agent\) in B\. A difference may be the release's, not the version's\.$/m);
    assert.match(md, /^> ⚠ The model differs: fake-model-1 in A, other-model in B\. A difference may be the model's, not the version's\.$/m);
    assert.ok(md.indexOf('⚠') < md.indexOf('## Experiments'), 'above the table');
    // A repeated three times, C once: STP k's repeat 1 beside repeat 1; the tests pair the 2 STPs.
    assert.match(md, /^\| 1 r1 \| succeeded \| ✓ 0 \|.* \| succeeded \| ✓ 0 \|/m);
    assert.match(md, /^\| 1 r2 \| succeeded \| ✓ 0 \|.* \| — \| — \| — \| — \| — \|$/m);
    assert.match(md, /^\| Success \| 2 \| .* \| no detectable difference with n = 2 \(too few STPs for any p < 0\.05\) \|$/m);
    assert.equal(out.metrics.find((m: Json) => m.key === 'cost').paired[0].n, 2);

    // No STP in common: nothing to judge, and a gate that judged nothing must not pass.
    assert.equal((await w.run(['v1', '--stp', '2', '--run-id', 'd'])).code, 1);
    const disjoint = await ptg(['compare', 'v1@d', 'v2@c', '--fail-on-regression'], { cwd: w.root });
    assert.equal(disjoint.code, 1);
    assert.match(disjoint.stderr, /^ptg: The runs share no STP: --fail-on-regression has nothing to judge\.\n$/);
  });
});

describe('ptg compare: a check whose count is better higher', () => {
  test('more tests in B is better with "better": "higher", and worse beyond the noise without it', async () => {
    // A check of the user's counting the test functions the agent wrote: B writes 1 to 6 more per STP.
    const tests = { name: 'tests', run: 'cat {files} | grep -c "^def test"', count: '^(\\d+)$' };
    const stp = (id: string, n: number) => `# STP ${id}\nfake: write tests/test_${id}.py ${JSON.stringify(Array.from({ length: n }, (_, i) => `def test_${i}():\n    pass\n`).join(''))}\n`;
    const ids = ['1', '2', '3', '4', '5', '6'];
    const w = await setUpWorkspace(Object.fromEntries(ids.map((id) => [id, stp(id, 1)])), { checks: [{ ...tests, better: 'higher' }] });
    assert.equal((await w.run(['v1', '--run-id', 'a'])).code, 0);
    for (const id of ids) fs.writeFileSync(path.join(w.root, 'stps', `${id}.md`), stp(id, 1 + Number(id)));
    assert.equal((await w.run(['v2', '--run-id', 'b'])).code, 0);
    const higher = await ptg(['compare', 'v1@a', 'v2@b', '--json'], { cwd: w.root });
    assert.equal(higher.code, 0, higher.stderr);
    const count = JSON.parse(higher.stdout).metrics.find((m: Json) => m.key === 'check:tests:count');
    assert.deepEqual([count.better, count.runs.map((r: Json) => r.estimate), count.paired[0].verdict], ['higher', [1, 4.5], 'better']);

    fs.writeJsonSync(path.join(w.root, 'ptg.config.json'), { checks: [tests] });
    const lower = await ptg(['compare', 'v1@a', 'v2@b', '--fail-on-regression'], { cwd: w.root });
    assert.equal(lower.code, 1);
    assert.match(lower.stderr, /^ptg: B \(v2@b\) is worse than A \(v1@a\) beyond the noise: .*tests count \(\+3\.50 per STP, p = 0\.031\)/m);
  });
});

// Reports built by hand: what the CLI cannot easily make (another base commit, another context).
function experiment(stp: string, status: ReportExperiment['status'], extra: Partial<ReportExperiment> = {}): ReportExperiment {
  return {
    stp,
    status,
    statusText: statusText(status),
    statusLine: `[STP ${stp}] ${status}`,
    testFiles: [],
    changedFiles: [],
    artifacts: [],
    masked: [],
    retries: [],
    checks: {},
    costUsd: 0.5,
    turns: 10,
    durationMs: 60_000,
    model: 'claude-opus-4-8',
    baseCommit: 'c'.repeat(40),
    contextHash: 'x'.repeat(64),
    folder: `experiments/x/${stp}-repo`,
    logTail: [],
    ...extra,
  };
}

function report(version: string, experiments: ReportExperiment[], extra: Partial<Report> = {}): Report {
  return {
    format: 1,
    version,
    kind: 'monolithic',
    runId: `run-${version}`,
    date: '2026-02-09T14:30:22.000Z',
    ptgVersion: '0.1.0',
    agent: { command: 'claude', version: '2.1.197' },
    versionHash: `hash-of-${version}`,
    model: experiments[0]?.model,
    repo: 'upstream',
    baseCommits: [...new Set(experiments.map((e) => e.baseCommit))],
    sandboxes: [...new Set(experiments.flatMap((e) => (e.sandbox ? [e.sandbox] : [])))],
    runState: 'finished',
    experiments,
    checks: checkNames(experiments),
    totals: totalsOf(experiments),
    ...extra,
  };
}

describe('compareReports', () => {
  const stps = ['1', '2', '3', '4'];

  test('warns where a run differs from the first in agent, model, base commit or context, and where a version changed or is a copy', () => {
    const base = report('v1', stps.map((s) => experiment(s, 'succeeded')));
    const others = [
      report('v2', stps.map((s) => experiment(s, 'succeeded', { model: 'claude-sonnet-4-5', baseCommit: 'd'.repeat(40), contextHash: 'y'.repeat(64) })), { agent: { command: 'claude', version: '2.1.200' } }),
      report('v2', stps.map((s) => experiment(s, 'succeeded', s === '3' ? { contextHash: 'y'.repeat(64) } : {}))),
      report('v1', stps.map((s) => experiment(s, 'succeeded')), { versionHash: 'hash-of-v1-edited' }),
      report('v1-copy', stps.map((s) => experiment(s, 'succeeded')), { versionHash: 'hash-of-v1' }),
    ];
    const c = compareReports([base, ...others], compareIds);
    assert.deepEqual(c.warnings.map((w) => [w.kind, w.runs[1], w.a, w.b, w.stps]), [
      ['agent-version', 1, '2.1.197', '2.1.200', undefined],
      ['model', 1, 'claude-opus-4-8', 'claude-sonnet-4-5', undefined],
      // A base commit of its own changes the context hash too: one warning says it.
      ['base-commit', 1, 'c'.repeat(40), 'd'.repeat(40), undefined],
      ['context', 2, undefined, undefined, ['3']],
      ['version-changed', 3, 'hash-of-v1', 'hash-of-v1-edited', undefined],
      ['same-version', 4, 'hash-of-v1', 'hash-of-v1', undefined],
    ]);
    const md = comparisonMarkdown(c);
    assert.match(md, /^> ⚠ The target differs: base commit cccccccccccc in A, dddddddddddd in B\./m);
    assert.match(md, /^> ⚠ What else shapes the agent \(CLAUDE\.md files, \.claude\/settings\*\.json, ~\/\.claude\) differs between A and C for STP 3\./m);
    assert.match(md, /^> ⚠ v1 changed between the runs \(version hash hash-of-v1 in A, hash-of-v1-e in D\): they test two prompts under one name\.$/m);
    assert.match(md, /^> ⚠ v1 and v1-copy are the same files/m);
  });

  test('warns where one run was sandboxed and the other not; not for another bubblewrap release', () => {
    const under = (sandbox: string) => report('v1', stps.map((s) => experiment(s, 'succeeded', { sandbox })));
    const c = compareReports([under('bwrap 0.8.0'), under('none (--sandbox none)'), under('bwrap 0.9.0')], compareIds);
    assert.deepEqual(c.warnings.map((w) => [w.kind, w.runs[1], w.a, w.b]), [['sandbox', 1, 'bwrap 0.8.0', 'none (--sandbox none)']]);
    assert.match(comparisonMarkdown(c), /^> ⚠ The sandbox differs: bwrap 0\.8\.0 in A, none \(--sandbox none\) in B\./m);
  });

  test('one version on two models (a matrix run): the model is what is compared, not a warning', () => {
    const on = (model: string) => report('v1', stps.map((s) => experiment(s, 'succeeded', { requestedModel: model, model })), { model });
    assert.deepEqual(compareReports([on('opus'), on('sonnet')], compareIds).warnings, []);
  });

  test('without repeats the sign test is McNemar\'s exact test; experiments that did not end are left out of success', () => {
    // A succeeds on STPs 1-6, B on none of them: 6 discordant pairs, all one way: p = 2 / 2^6 (R: binom.test(6, 6)$p.value = 0.03125).
    const ids = ['1', '2', '3', '4', '5', '6', '7'];
    const a = report('v1', ids.map((s) => experiment(s, s === '7' ? 'skipped' : 'succeeded')));
    const b = report('v2', ids.map((s) => experiment(s, s === '7' ? 'succeeded' : 'failed')));
    const c = compareReports([a, b], compareIds);
    const success = c.metrics.find((m) => m.key === 'success')!;
    assert.deepEqual(success.runs.map((r) => [r.n, r.successes]), [[6, 6], [7, 1]]);
    assert.deepEqual([success.paired[0]!.n, success.paired[0]!.b, success.paired[0]!.c, success.paired[0]!.verdict], [6, 6, 0, 'worse']);
    close(success.paired[0]!.pValue, 0.03125, 'McNemar p');
    assert.deepEqual(c.regressions.map((r) => r.stp), ['1', '2', '3', '4', '5', '6']);
    const md = comparisonMarkdown(c);
    assert.match(md, /^- STP 1: succeeded in A, not in B$/m);
    assert.match(md, /^1 experiment that did not end \(skipped by the budget, interrupted, running, without a status\) is left out of success and duration\.$/m);
    // Only 4 of them: even 4 of 4 one way gives p = 0.125.
    const few = compareReports([report('v1', stps.map((s) => experiment(s, 'succeeded'))), report('v2', stps.map((s) => experiment(s, 'failed')))], compareIds);
    assert.match(comparisonMarkdown(few), /\| Success \| 4 \| −100 pp \| sign test: A higher in 4, B in 0 \| p = 0\.13 \| no detectable difference with n = 4 \(too few STPs for any p < 0\.05\) \|/);
  });

  test("a check's count is judged the way its config says: more tests better, more findings worse", () => {
    // B finds 1 to 6 more of the check's count on every STP: exact signed-rank p = 2/2^6 (R: wilcox.test(1:6)$p.value = 0.03125).
    const counted = (version: string, extra: number) => report(version, ['1', '2', '3', '4', '5', '6'].map((s) => experiment(s, 'succeeded', { checks: { tests: { passed: true, count: 2 + (extra ? Number(s) : 0), durationMs: 5 } } })));
    const [a, b] = [counted('v1', 0), counted('v2', 1)];
    const countOf = (c: ReturnType<typeof compareReports>) => c.metrics.find((m) => m.key === 'check:tests:count')!;
    const findings = compareReports([a, b], compareIds);
    assert.deepEqual([countOf(findings).better, countOf(findings).paired[0]!.verdict], ['lower', 'worse'], 'a count of findings unless said');
    close(countOf(findings).paired[0]!.pValue, 0.03125, 'signed-rank p');
    assert.deepEqual(worseBeyondNoise(findings).map((w) => w.metric.key), ['check:tests:count']);
    const tests = compareReports([a, b], compareIds, { tests: 'higher' });
    assert.deepEqual([countOf(tests).better, countOf(tests).paired[0]!.verdict], ['higher', 'better']);
    assert.deepEqual(worseBeyondNoise(tests), [], 'no regression for --fail-on-regression');
    assert.match(comparisonMarkdown(tests), /^\| tests count \| higher \|/m);
  });

  test('which way each check is better comes from the config of the versions compared; two ways for one check is an error', () => {
    const config = { checks: ['pytest-collect', { name: 'tests', run: 'true', count: '(\\d+)', better: 'higher' as const }], versions: { v3: { checks: [{ name: 'tests', run: 'true' }] } } };
    assert.deepEqual(countDirections(config, ['v1', 'v2']), { 'pytest-collect': 'higher', tests: 'higher' });
    assert.deepEqual(countDirections(config, ['v3']), { tests: 'lower' });
    assert.throws(() => countDirections(config, ['v1', 'v3']), { message: 'ptg.config.json: check "tests" is better "higher" for v1 and "lower" for v3: its counts cannot be compared; give both the same "better".' });
  });
});
