// Issue 13's checks: verdicts beyond pyright, run in the slot once the agent ends, with real
// pyright and real pytest.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import fs from 'fs-extra';
import { checkSpecs, parseCount, runCheck, timeoutText } from '../src/core/checks.js';
import { isAlive, ptg, runIdOf, setUpWorkspace, tmpDir, waitFor } from './support/fixtures.js';

const write = (file: string, text: string) => `fake: write ${file} ${JSON.stringify(text)}\n`;

const COLLECTS = 'def test_one():\n    assert 1 + 1 == 2\n\n\ndef test_two():\n    assert True\n';
const IMPORT_ERROR = 'import no_such_module_anywhere\n\n\ndef test_three():\n    pass\n';
const SYNTAX_ERROR = 'def test_four(:\n    pass\n';

describe('checks', () => {
  test('pytest-collect, a user check with a count regex and a check whose tool is missing: each verdict, kept, and the agent still succeeded', async () => {
    const checks = [
      'pyright',
      'pytest-collect',
      // ruff-style: one line per finding, then a summary the count regex reads; fails when it finds any.
      { name: 'todo', run: 'n=$(grep -c TODO {files}); echo "Found $n errors."; test "$n" = 0', count: 'Found (\\d+) errors?' },
      { name: 'lint', run: 'no-such-linter-anywhere check {files}' },
    ];
    const w = await setUpWorkspace(
      {
        '1': `# STP 1\n${write('tests/test_collects.py', `${COLLECTS}# TODO one\n# TODO two\n`)}`,
        '2': `# STP 2\n${write('tests/test_import.py', IMPORT_ERROR)}`,
        '3': `# STP 3\n${write('tests/test_syntax.py', SYNTAX_ERROR)}`,
      },
      { checks },
    );
    const r = await w.run(['v1']);
    assert.equal(r.code, 0, r.stderr);
    const status = (id: string) => fs.readJsonSync(path.join(w.expDir(id, 'v1', runIdOf(r.stdout)), 'status.json'));
    const [one, two, three] = ['1', '2', '3'].map(status);
    for (const s of [one, two, three]) assert.equal(s.state, 'succeeded', 'a check is no failure of the agent');

    assert.deepEqual(pick(one.checks['pytest-collect']), { passed: true, count: 2 });
    assert.deepEqual(pick(two.checks['pytest-collect']), { passed: false, count: 0 });
    assert.match(two.checks['pytest-collect'].detail, /tests\/test_import\.py: ModuleNotFoundError: No module named 'no_such_module_anywhere'/);
    assert.deepEqual(pick(three.checks['pytest-collect']), { passed: false, count: 0 });
    assert.match(three.checks['pytest-collect'].detail, /tests\/test_syntax\.py: SyntaxError.*\(line 1\)/);

    assert.deepEqual(pick(one.checks.todo), { passed: false, count: 2 });
    assert.deepEqual(pick(two.checks.todo), { passed: true, count: 0 });

    assert.equal(one.checks.lint.passed, null, 'a missing tool is no verdict');
    assert.match(one.checks.lint.error, /no-such-linter-anywhere: .*not found/);

    assert.deepEqual(pick(one.checks.pyright), { passed: true, count: 0 });
    assert.equal(three.checks.pyright.passed, false);
    assert.ok(three.checks.pyright.count > 0);
    assert.equal(three.pyright.errors, three.checks.pyright.count, 'the pyright field stays for older readers');
    for (const s of [one, two, three]) for (const c of Object.values(s.checks) as { durationMs: number }[]) assert.ok(c.durationMs >= 0);

    const folder = w.expDir('2', 'v1', runIdOf(r.stdout));
    assert.match(fs.readFileSync(path.join(folder, 'checks/pytest-collect.txt'), 'utf8'), /ERROR collecting tests\/test_import\.py/);
    assert.match(fs.readFileSync(path.join(folder, 'checks/todo.txt'), 'utf8'), /Found 0 errors/);
    assert.ok(fs.existsSync(path.join(folder, 'checks/pyright.json')) && fs.existsSync(path.join(folder, 'pyright.json')));
    assert.ok(!fs.existsSync(path.join(w.slot('2'), 'tests/__pycache__')), 'checks leave no bytecode in the slot');
  });

  test('a bad check in the config is one line and exit 2 before anything starts', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n' }, { checks: ['pyright', 'mypy'] });
    const r = await w.run(['v1']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), 'ptg: ptg.config.json: "checks": unknown check "mypy": the built-in checks are pyright, pytest-collect; give others as { "name", "run", "count" }.');
    const w2 = await setUpWorkspace({ '1': '# STP 1\n' }, { checks: [{ name: 'x', run: 'true', count: 'no group' }] });
    assert.match((await w2.run(['v1'])).stderr, /^ptg: ptg.config.json: "checks": check "x": count "no group" needs exactly one group/);
  });

  test('a timeout per check, built-ins given as objects too; which way a count is better; each mistake one line', () => {
    const [pyright, collect, todo, slow] = checkSpecs([{ name: 'pyright', timeout: '20m' }, 'pytest-collect', { name: 'todo', run: 'true', count: '(\\d+)' }, { name: 'tests', run: 'true', better: 'higher', timeout: 90 }]);
    assert.deepEqual(pyright, { name: 'pyright', builtin: 'pyright', timeoutMs: 20 * 60_000, better: 'lower' });
    assert.deepEqual([collect!.timeoutMs, collect!.better], [10 * 60_000, 'higher'], 'ten minutes unless said; pytest-collect counts tests');
    assert.deepEqual([todo!.better, slow!.better, slow!.timeoutMs], ['lower', 'higher', 90_000]);
    assert.throws(() => checkSpecs([{ name: 'x', run: 'true', timeout: 'soon' }]), { message: 'check "x": Invalid timeout "soon": use a number with a unit, like 90s, 30m or 2h' });
    assert.throws(() => checkSpecs([{ name: 'mine', timeout: '1m' }]), { message: 'check "mine" has no "run": give its shell command, or name a built-in check (pyright, pytest-collect)' });
    assert.throws(() => checkSpecs([{ name: 'pytest-collect', better: 'lower' }]), /check "pytest-collect" is built in: it takes a "timeout"/);
    assert.equal(timeoutText(20 * 60_000), '20m');
    assert.equal(timeoutText(1500), '1500ms');
  });

  test('a check that runs out of time is ended, process and all, and did not pass: "timed out after 300ms"', async () => {
    const dir = tmpDir();
    const pidFile = path.join(dir, 'pid');
    const [spec] = checkSpecs([{ name: 'slow', run: `echo $$ > ${pidFile}; exec sleep 600`, timeout: '300ms' }]);
    const result = await runCheck(spec!, { slotDir: dir, pythonFiles: [], testFiles: [], env: process.env, outDir: path.join(dir, 'checks') });
    assert.deepEqual({ ...result, durationMs: 0 }, { passed: false, count: null, timedOut: true, detail: 'timed out after 300ms', durationMs: 0 });
    assert.equal(isAlive(Number(fs.readFileSync(pidFile, 'utf8'))), false, 'its process is gone');
  });

  test('named count parsers read pyright, ruff and pytest output', () => {
    assert.equal(parseCount('json-length', '[{"a":1},{"a":2}]'), 2);
    assert.equal(parseCount('ruff', '[{"code":"F401"}]'), 1);
    assert.equal(parseCount('ruff', 'x.py:1:1: F401 unused\nFound 3 errors.\n'), 3);
    assert.equal(parseCount('ruff', 'All checks passed!\n'), 0);
    assert.equal(parseCount('pyright', '{"summary":{"errorCount":4}}'), 4);
    assert.equal(parseCount('pyright', '2 errors, 0 warnings, 0 informations'), 2);
    assert.equal(parseCount('pytest', '3 tests collected in 0.1s'), 3);
    assert.equal(parseCount('pytest', '2 tests collected, 1 error in 0.65s'), 2);
    assert.equal(parseCount('pytest', '5 passed, 1 failed in 2.01s'), 5);
    assert.equal(parseCount('(\\d+) issues', 'none here'), null);
  });
});

describe('ptg verify', () => {
  test('after adding checks: new results beside the old in status.json and the reports, no agent started, the slot clean and nothing lost', async () => {
    const w = await setUpWorkspace({
      '1': `# STP 1\n${write('tests/test_collects.py', COLLECTS)}`,
      '2': `# STP 2\n${write('tests/test_import.py', IMPORT_ERROR)}`,
    });
    const r = await w.run(['v1']);
    assert.equal(r.code, 0, r.stderr);
    const runId = runIdOf(r.stdout);
    const before = fs.readJsonSync(path.join(w.expDir('2', 'v1', runId), 'status.json'));
    assert.deepEqual(Object.keys(before.checks), ['pyright']);

    // A check added a month later, and someone's unsaved work in slot 1.
    fs.writeJsonSync(path.join(w.root, 'ptg.config.json'), { checks: ['pyright', 'pytest-collect', { name: 'lines', run: 'cat {files} | wc -l', count: '(\\d+)' }] });
    fs.writeFileSync(path.join(w.slot('1'), 'notes.txt'), 'my unsaved notes\n');
    const record = tmpDir('ptg-record-');
    const v = await ptg(['verify', 'v1', '--json'], { cwd: w.root, env: { FAKE_AGENT_RECORD: record } });
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual(fs.readdirSync(record), [], 'no agent process started');
    const out = JSON.parse(v.stdout);
    assert.deepEqual(out.checks, ['pyright', 'pytest-collect', 'lines']);
    assert.equal(out.experiments[1].after['pytest-collect'].passed, false);

    const one = fs.readJsonSync(path.join(w.expDir('1', 'v1', runId), 'status.json'));
    const two = fs.readJsonSync(path.join(w.expDir('2', 'v1', runId), 'status.json'));
    assert.deepEqual(two.checks, before.checks, "the run's own results are kept as they were");
    assert.equal(two.verifications.length, 1);
    assert.equal(two.verifications[0].dir, 'checks/verify-1');
    assert.deepEqual(pick(two.verifications[0].checks['pytest-collect']), { passed: false, count: 0 });
    assert.deepEqual(pick(one.verifications[0].checks['pytest-collect']), { passed: true, count: 2 });
    assert.deepEqual(pick(one.verifications[0].checks.lines), { passed: true, count: COLLECTS.split('\n').length - 1 });
    assert.match(fs.readFileSync(path.join(w.expDir('2', 'v1', runId), 'checks/verify-1/pytest-collect.txt'), 'utf8'), /ModuleNotFoundError/);

    // Nothing lost: the unsaved work is in a patch; the slots are clean at their base.
    const saved = out.experiments[0].savedPatch;
    assert.match(fs.readFileSync(saved, 'utf8'), /\+my unsaved notes/);
    for (const id of ['1', '2']) {
      assert.equal(git(w.slot(id), 'status', '--porcelain'), '', `slot ${id} is clean`);
      assert.equal(git(w.slot(id), 'rev-parse', 'HEAD'), one.baseCommit);
    }

    // The reports show the checks as verified now.
    assert.equal((await ptg(['collect', 'v1', runId], { cwd: w.root })).code, 0);
    const summary = fs.readJsonSync(path.join(w.ws, `results_v1_${runId}`, 'summary.json'));
    assert.deepEqual(summary.checks, ['pyright', 'pytest-collect', 'lines']);
    assert.deepEqual(summary.totals.checks['pytest-collect'], { passed: 1, failed: 1, notRun: 0, count: 2 });
    assert.ok(summary.experiments[0].verifiedAt);
    const md = fs.readFileSync(path.join(w.ws, `results_v1_${runId}`, 'summary.md'), 'utf8');
    assert.match(md, /\| STP \| Status \| Test file\(s\) \| pyright \| pytest-collect \| lines \|/);
    assert.match(md, /run again by `ptg verify`/);

    // A second verify of one check adds a second record.
    assert.equal((await ptg(['verify', 'v1', runId, '--check', 'pytest-collect', '--stp', '2'], { cwd: w.root })).code, 0);
    const again = fs.readJsonSync(path.join(w.expDir('2', 'v1', runId), 'status.json'));
    assert.deepEqual(again.verifications.map((x: { dir: string; checks: object }) => [x.dir, Object.keys(x.checks)]), [['checks/verify-1', ['pyright', 'pytest-collect', 'lines']], ['checks/verify-2', ['pytest-collect']]]);
    assert.match((await ptg(['verify', 'v1', '--check', 'mypy'], { cwd: w.root })).stderr, /^ptg: --check mypy: v1 has no such check/);
  });

  test('refuses while a run uses the slot (exit 2, nothing touched) and a run still going', async () => {
    const w = await setUpWorkspace({ '1': `# STP 1\n${write('tests/test_collects.py', COLLECTS)}` });
    const first = await w.run(['v1']);
    assert.equal(first.code, 0, first.stderr);
    // A second run of STP 1 whose agent hangs: it holds the slot.
    fs.appendFileSync(path.join(w.root, 'stps', '1.md'), 'fake: hang\n');
    let ptgPid = 0;
    const running = w.run(['v1', '--run-id', 'busy'], { onSpawn: (pid) => (ptgPid = pid) });
    await waitFor('the agent to start', () => fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1/busy/manifest.json'), { throws: false })?.experiments[0].pid);
    const refused = await ptg(['verify', 'v1', runIdOf(first.stdout)], { cwd: w.root });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /^ptg: Slot 1-upstream is in use by run v1 busy \(pid \d+\)/m);
    const still = await ptg(['verify', 'v1', 'busy'], { cwd: w.root });
    assert.equal(still.code, 1);
    assert.match(still.stderr, /^ptg: Run busy of v1 is still running \(pid \d+\): verify it once it has finished\.$/m);
    assert.equal(fs.readJsonSync(path.join(w.expDir('1', 'v1', runIdOf(first.stdout)), 'status.json')).verifications, undefined);
    process.kill(ptgPid, 'SIGINT');
    assert.equal((await running).code, 130);
  });
});

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();
}

function pick(result: { passed: boolean | null; count: number | null }) {
  return { passed: result.passed, count: result.count };
}
