import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import fs from 'fs-extra';
import { ptg, runIdOf, setUpWorkspace, waitFor } from './support/fixtures.js';

const write = (file: string, text: string) => `fake: write ${file} ${JSON.stringify(text)}\n`;
const GOOD_PY = 'def test_ok() -> None:\n    assert 1 + 1 == 2\n';
const BAD_PY = 'def test_bad() -> None:\n    x: int = "not an int"\n    assert x\n';

describe('ptg collect', () => {
  test('a true report: statuses, test files, real pyright counts, figures from the agent, totals', async () => {
    // STP 3 is missing on purpose: row 3 of the table must be STP 4, not a renumbered one.
    const w = await setUpWorkspace({
      '1': `# STP 1\n${write('tests/virt/test_one.py', GOOD_PY)}fake: cost 0.25\nfake: turns 4\nfake: sleep 300\n`,
      '2': `# STP 2\n${write('tests/virt/test_two.py', BAD_PY)}fake: cost 0.5\nfake: exit 3\n`,
      '4': `# STP 4\nfake: error 500 Internal server error\nfake: cost 0.125\n`,
      '5': `# STP 5\n${write('tests/test_five.py', BAD_PY)}fake: cost 1\n`,
    });
    const run = await w.run(['v1']);
    assert.equal(run.code, 1);
    const id = runIdOf(run.stdout);
    const stepSummary = path.join(w.dir, 'step-summary.md');
    fs.writeFileSync(stepSummary, '# earlier step\n');
    const r = await ptg(['collect', 'v1', id], { cwd: w.root, env: { GITHUB_STEP_SUMMARY: stepSummary } });
    assert.equal(r.code, 0, r.stderr);
    const out = path.join(w.ws, `results_v1_${id}`);
    assert.match(r.stdout, new RegExp(`${out}/summary.md`));

    const summary = fs.readJsonSync(path.join(out, 'summary.json'));
    const statuses = fs.readdirSync(w.ws).filter((n) => n.endsWith('-upstream')).map((slot) => fs.readJsonSync(path.join(w.ws, 'experiments', `v1_experiment_${id}`, slot, 'status.json')));
    const duration = (stp: string) => statuses.find((s) => s.stp === stp).durationMs;
    assert.deepEqual(
      summary.experiments.map((e: any) => [e.stp, e.status, e.statusText, e.testFiles, e.pyright?.errors, e.durationMs, e.turns, e.costUsd]),
      [
        ['1', 'succeeded', 'succeeded', ['tests/virt/test_one.py'], 0, duration('1'), 4, 0.25],
        ['2', 'failed', 'failed (exit 3)', ['tests/virt/test_two.py'], 1, duration('2'), 3, 0.5],
        ['4', 'agent_error', 'agent error', [], undefined, duration('4'), 2, 0.125],
        ['5', 'succeeded', 'succeeded', ['tests/test_five.py'], 1, duration('5'), 3, 1],
      ],
    );
    assert.equal(summary.experiments[2].agentError, 'API Error: 500 Internal server error');
    assert.deepEqual(summary.totals, {
      experiments: 4,
      succeeded: 2,
      costUsd: 1.875,
      medianDurationMs: [duration('1'), duration('2'), duration('4'), duration('5')].sort((a, b) => a - b).slice(1, 3).reduce((a, b) => a + b) / 2,
      pyrightErrors: 2,
      turns: 12,
      checks: { pyright: { passed: 1, failed: 2, notRun: 1, count: 2 } },
    });
    assert.equal(summary.agent.version, '0.0.1 (fake agent)');
    assert.equal(summary.model, 'fake-model-1');

    const md = fs.readFileSync(path.join(out, 'summary.md'), 'utf8');
    const rows = md.split('\n').filter((l) => /^\| (\d|\*\*Total)/.test(l));
    assert.equal(rows.length, 5);
    assert.match(rows[0]!, /^\| 1 \| succeeded \| tests\/virt\/test_one.py \| ✓ 0 \| [\d.]+s \| 4 \| \$0\.2500 \|$/);
    assert.match(rows[1]!, /^\| 2 \| failed \(exit 3\) \| tests\/virt\/test_two.py \| ✗ 1 \|/);
    assert.match(rows[2]!, /^\| 4 \| agent error \| — \| — \|/);
    assert.match(rows[4]!, /^\| \*\*Total\*\* \| 2\/4 succeeded \| 3 files \| 1\/3 passed \| median [\d.]+s \| 12 \| \$1\.88 \|$/);
    assert.match(md, /Agent error: API Error: 500 Internal server error/);
    assert.match(md, /## STP 4\n\n`\[STP 4\] ✗ Agent error: API Error: 500 Internal server error`/);
    assert.match(md, /Last \d+ lines of claude.log/);
    assert.equal(fs.readFileSync(stepSummary, 'utf8'), `# earlier step\n${md}\n`);

    // stp_<id>/: the experiment folder, with the generated files under their repository paths.
    assert.equal(fs.readFileSync(path.join(out, 'stp_1', 'files', 'tests/virt/test_one.py'), 'utf8'), GOOD_PY);
    assert.ok(fs.existsSync(path.join(out, 'stp_4', 'claude.log')));
    assert.ok(!fs.existsSync(path.join(out, 'stp_3')));

    const junit = new XMLParser({ ignoreAttributes: false }).parse(fs.readFileSync(path.join(out, 'junit.xml'), 'utf8'));
    const cases = junit.testsuites.testsuite.testcase;
    assert.deepEqual(cases.map((c: any) => c['@_name']), ['STP 1', 'STP 2', 'STP 4', 'STP 5']);
    assert.deepEqual(cases.map((c: any) => Boolean(c.failure)), [false, true, true, false]);
    assert.equal(junit.testsuites['@_failures'], '2');

    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//);
    assert.match(html, /<svg class="chart"/);

    const strict = await ptg(['collect', 'v1', id, '--strict'], { cwd: w.root });
    assert.equal(strict.code, 0);
    const strictCases = new XMLParser({ ignoreAttributes: false }).parse(fs.readFileSync(path.join(out, 'junit.xml'), 'utf8')).testsuites.testsuite.testcase;
    assert.deepEqual(strictCases.map((c: any) => c.failure?.['@_type'] ?? null), [null, 'failed', 'agent_error', 'pyright']);
  });

  test('re-collecting replaces the results folder whole; the latest run is the default', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n' });
    const first = runIdOf((await w.run(['v1'])).stdout);
    const second = runIdOf((await w.run(['v1'])).stdout);
    const r = await ptg(['collect', 'v1'], { cwd: w.root });
    assert.equal(r.code, 0);
    const out = path.join(w.ws, `results_v1_${second}`);
    fs.writeFileSync(path.join(out, 'stale.txt'), 'from an older collect');
    assert.equal((await ptg(['collect', 'v1', second], { cwd: w.root })).code, 0);
    assert.ok(!fs.existsSync(path.join(out, 'stale.txt')));
    assert.deepEqual(fs.readdirSync(w.ws).filter((n) => n.startsWith('results_')), [`results_v1_${second}`], 'no half-written or old folders left');
    const runs = await ptg(['runs'], { cwd: w.root });
    assert.match(runs.stdout, new RegExp(`v1 +${first} .* 1 +1/1 +0 +\\$0\\.0125 +— +finished`));
  });

  test('an interrupted run and a run still in progress', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: hang\n', '2': '# STP 2\n' });
    let pid = 0;
    const running = w.run(['v1'], { onSpawn: (p) => (pid = p) });
    await waitFor('STP 2 to finish', () => w.findExp('2', 'status.txt'));
    const during = await ptg(['collect', 'v1'], { cwd: w.root });
    assert.equal(during.code, 0, during.stderr);
    assert.match(during.stdout, /still running: collected what has finished/);
    const id = fs.readdirSync(path.join(w.ws, '.ptg/runs/v1'))[0]!;
    const live = fs.readJsonSync(path.join(w.ws, `results_v1_${id}`, 'summary.json'));
    assert.equal(live.runState, 'running');
    assert.deepEqual(live.experiments.map((e: any) => e.status), ['running', 'succeeded']);
    process.kill(pid, 'SIGINT');
    assert.equal((await running).code, 130);
    assert.equal((await ptg(['collect', 'v1'], { cwd: w.root })).code, 0);
    const after = fs.readJsonSync(path.join(w.ws, `results_v1_${id}`, 'summary.json'));
    assert.equal(after.runState, 'interrupted');
    assert.deepEqual(after.experiments.map((e: any) => e.status), ['interrupted', 'succeeded']);
    assert.match(fs.readFileSync(path.join(w.ws, `results_v1_${id}`, 'summary.md'), 'utf8'), /\| 1 \| interrupted \|/);
  });

  test('unknown run id, no runs, unknown version: exit 1 or 2 with one clear line', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n' });
    const none = await ptg(['collect', 'v1'], { cwd: w.root });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /No runs of v1 in .*: start one with `ptg run v1`/);
    const id = runIdOf((await w.run(['v1'])).stdout);
    const unknown = await ptg(['collect', 'v1', '19990101_000000'], { cwd: w.root });
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, `ptg: No run 19990101_000000 of v1. Runs of v1: ${id}.\n`);
    const version = await ptg(['collect', 'v7'], { cwd: w.root });
    assert.equal(version.code, 2);
  });
});

describe('ptg compare', () => {
  test('one row per STP, a gap where a run lacks an STP, aggregates per run', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: cost 0.5\n', '2': '# STP 2\nfake: exit 2\nfake: cost 0.25\n', '3': '# STP 3\nfake: cost 1\n' });
    const a = runIdOf((await w.run(['v1'])).stdout);
    const b = runIdOf((await w.run(['v2', '--stp', '1,3'])).stdout);
    const r = await ptg(['compare', 'v1', `v2@${b}`], { cwd: w.root });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines.find((l) => l.startsWith('| 2 |'))!, /^\| 2 \| failed \(exit 2\) \| — \| [\d.]+s \| \$0\.2500 \| 2 \| — \| — \| — \| — \| — \|$/);
    assert.match(lines.find((l) => l.startsWith('| 3 |'))!, /^\| 3 \| succeeded .* \| succeeded \|/);
    assert.match(lines.find((l) => l.startsWith('| **Success rate**'))!, /67% \(2\/3\) .* 100% \(2\/2\)/);
    assert.match(lines.find((l) => l.startsWith('| **Total cost**'))!, /\$1\.75 .* \$1\.50/);
    const file = path.join(w.ws, `comparison_v1@${a}_vs_v2@${b}`);
    assert.equal(fs.readFileSync(`${file}.md`, 'utf8'), r.stdout.slice(0, r.stdout.indexOf('\n\nWrote') + 1));
    assert.match(fs.readFileSync(`${file}.html`, 'utf8'), /data-run=/);
  });
});
