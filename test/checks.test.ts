// Issue 13's checks: verdicts beyond pyright, run in the slot once the agent ends, with real
// pyright and real pytest.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import fs from 'fs-extra';
import { checkSpecs, parseCount, runCheck, timeoutText } from '../src/core/checks/checks.js';
import { FAKE_AGENT, isAlive, makeRoot, makeUpstream, ptg, pushCommit, runIdOf, setUpWorkspace, tmpDir, waitFor } from './support/fixtures.js';

const write = (file: string, text: string) => `fake: write ${file} ${JSON.stringify(text)}\n`;

const COLLECTS = 'def test_one():\n    assert 1 + 1 == 2\n\n\ndef test_two():\n    assert True\n';
const IMPORT_ERROR = 'import no_such_module_anywhere\n\n\ndef test_three():\n    pass\n';
const SYNTAX_ERROR = 'def test_four(:\n    pass\n';
// A slot's Python setup in a fraction of a second: no pip, the system's pytest.
const VENV = 'python3 -m venv --without-pip --system-site-packages .venv';

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
  test('after adding checks: new results beside the old in status.json and the reports, no agent started, the slots untouched', async () => {
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
    const slotsBefore: Record<string, string> = { '1': git(w.slot('1'), 'status', '--porcelain'), '2': git(w.slot('2'), 'status', '--porcelain') };
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

    // The checks ran in checkouts of their own, gone now: the slots are as the run left them, unsaved work and all.
    assert.equal(fs.readFileSync(path.join(w.slot('1'), 'notes.txt'), 'utf8'), 'my unsaved notes\n');
    for (const id of ['1', '2']) {
      assert.equal(git(w.slot(id), 'status', '--porcelain'), slotsBefore[id], `slot ${id} is untouched`);
      assert.equal(git(w.slot(id), 'rev-parse', 'HEAD'), one.baseCommit);
    }
    assert.deepEqual(fs.readdirSync(path.join(w.ws, '.ptg', 'checkouts')), [], 'no checkout left');

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

  test('while another run holds the slot: verifies all the same without touching it; refuses a run still going', async () => {
    const w = await setUpWorkspace({ '1': `# STP 1\n${write('tests/test_collects.py', COLLECTS)}` });
    const first = await w.run(['v1']);
    assert.equal(first.code, 0, first.stderr);
    // A second run of STP 1 whose agent writes its file and hangs: it holds the slot.
    fs.writeFileSync(path.join(w.root, 'stps', '1.md'), `# STP 1\n${write('tests/test_busy.py', COLLECTS)}fake: hang\n`);
    let ptgPid = 0;
    const running = w.run(['v1', '--run-id', 'busy'], { onSpawn: (pid) => (ptgPid = pid) });
    await waitFor('the agent to start', () => fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1/busy/manifest.json'), { throws: false })?.experiments[0].pid);
    await waitFor('the busy agent to write', () => fs.existsSync(path.join(w.slot('1'), 'tests/test_busy.py')));
    const verified = await ptg(['verify', 'v1', runIdOf(first.stdout)], { cwd: w.root });
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal(fs.readJsonSync(path.join(w.expDir('1', 'v1', runIdOf(first.stdout)), 'status.json')).verifications.length, 1);
    assert.equal(git(w.slot('1'), 'status', '--porcelain'), '?? tests/test_busy.py', "the running agent's files stay as it wrote them");
    const still = await ptg(['verify', 'v1', 'busy'], { cwd: w.root });
    assert.equal(still.code, 1);
    assert.match(still.stderr, /^ptg: Run busy of v1 is still running \(pid \d+\): verify it once it has finished\.$/m);
    process.kill(ptgPid, 'SIGINT');
    assert.equal((await running).code, 130);
  });

  test('one verify of a run at a time; Ctrl-C ends its check, removes its checkout and records nothing', async () => {
    const w = await setUpWorkspace({ '1': `# STP 1\n${write('tests/test_collects.py', COLLECTS)}` });
    const first = await w.run(['v1']);
    assert.equal(first.code, 0, first.stderr);
    const runId = runIdOf(first.stdout);
    const marker = path.join(w.dir, 'hang.pid');
    // The check says where it runs and who it is, then waits to be ended.
    fs.writeJsonSync(path.join(w.root, 'ptg.config.json'), { checks: [{ name: 'hang', run: `pwd > ${marker}.cwd; echo $$ > ${marker}; exec sleep 600` }] });
    let verifyPid = 0;
    // Unsandboxed: the check writes its pid (the machine's only outside a PID namespace) beside the workspace.
    const verifying = ptg(['verify', 'v1', '--sandbox', 'none'], { cwd: w.root, onSpawn: (pid) => (verifyPid = pid) });
    const checkPid = Number(await waitFor('the check to start', () => fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim()));
    const checkout = fs.readFileSync(`${marker}.cwd`, 'utf8').trim();
    assert.ok(checkout.startsWith(path.join(w.ws, '.ptg', 'checkouts')), checkout);
    assert.ok(fs.existsSync(path.join(checkout, 'tests/test_collects.py')), 'the check sees the experiment\'s files');

    const second = await ptg(['verify', 'v1', runId], { cwd: w.root });
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, new RegExp(`^ptg: Run ${runId} of v1 is in use by ptg verify of v1 ${runId} \\(pid ${verifyPid}\\): wait for it to end, then verify again\\.$`, 'm'));

    process.kill(verifyPid, 'SIGINT');
    const ended = await verifying;
    assert.equal(ended.code, 130, ended.stderr);
    assert.match(ended.stdout, /not verified: interrupted/);
    assert.equal(isAlive(checkPid), false, 'the check outlived ptg');
    assert.equal(fs.existsSync(checkout), false, 'its checkout is gone');
    assert.deepEqual(fs.readdirSync(path.join(w.ws, '.ptg', 'checkouts')), []);
    const folder = w.expDir('1', 'v1', runId);
    assert.equal(fs.readJsonSync(path.join(folder, 'status.json')).verifications, undefined);
    assert.equal(fs.existsSync(path.join(folder, 'checks', 'verify-1')), false, 'no half a verification');
  });

  test('a run from another workspace (its pack unpacked here): re-scored from the mirror on its own base commit, fetched; the new verdicts beside the old', async () => {
    const dir = tmpDir();
    const upstream = makeUpstream(dir);
    // STP 1's test needs a module only the newer base commit has; STP 2's never imports.
    const root = makeRoot(dir, {
      stps: {
        '1': `# STP 1\n${write('tests/test_newer.py', 'from utilities.newer import VALUE\n\n\ndef test_value() -> None:\n    assert VALUE == 2\n')}`,
        '2': `# STP 2\n${write('tests/test_import.py', IMPORT_ERROR)}`,
      },
      config: { python: [VENV] },
    });
    const b = path.join(root, 'b');
    assert.equal((await ptg(['setup', '--repo', upstream, '--workspace', b], { cwd: root })).code, 0);
    const newer = pushCommit(upstream, 'utilities/newer.py', 'VALUE = 2\n');
    // Workspace A, set up later from the same upstream: its base commit is one B's mirror lacks.
    assert.equal((await ptg(['setup', '--repo', upstream], { cwd: root })).code, 0);
    const run = await ptg(['run', 'v1', '--agent', FAKE_AGENT], { cwd: root, env: { IS_SANDBOX: '1' } });
    assert.equal(run.code, 0, run.stderr);
    const runId = runIdOf(run.stdout);
    const packed = await ptg(['pack', 'v1', runId, '--out', dir], { cwd: root });
    assert.equal(packed.code, 0, packed.stderr);
    execFileSync('tar', ['-xzf', path.join(dir, `ptg-pack_v1_${runId}.tar.gz`), '-C', b]);
    const inA = (id: string) => path.join(root, 'parallel', 'experiments', `v1_experiment_${runId}`, `${id}-upstream`);
    const inB = (id: string) => path.join(b, 'experiments', `v1_experiment_${runId}`, `${id}-upstream`);
    const before = fs.readJsonSync(path.join(inB('1'), 'status.json'));
    assert.equal(before.baseCommit, newer);
    assert.equal(hasObject(path.join(b, '.ptg', 'mirror.git'), newer), false);

    // pytest-collect added since, pyright given a timeout of its own, and a check that runs the slot's .venv by its path, as in a slot.
    const venvCheck = { name: 'venv', run: '.venv/bin/python -c "import pytest"' };
    fs.writeJsonSync(path.join(root, 'ptg.config.json'), { python: [VENV], checks: [{ name: 'pyright', timeout: '20m' }, 'pytest-collect', venvCheck] });
    const v = await ptg(['verify', 'v1', runId, '--workspace', b, '--json'], { cwd: root });
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual(JSON.parse(v.stdout).experiments.map((x: { skipped?: string }) => x.skipped), [undefined, undefined]);
    const one = fs.readJsonSync(path.join(inB('1'), 'status.json'));
    const two = fs.readJsonSync(path.join(inB('2'), 'status.json'));
    assert.deepEqual(one.checks, before.checks, "the run's own results are kept");
    assert.deepEqual(one.verifications.map((x: { dir: string }) => x.dir), ['checks/verify-1']);
    assert.deepEqual(pick(one.verifications[0].checks['pytest-collect']), { passed: true, count: 1 });
    assert.deepEqual(pick(one.verifications[0].checks.pyright), { passed: true, count: 0 });
    assert.equal(one.verifications[0].checks.venv.passed, true, one.verifications[0].checks.venv.error);
    assert.ok(fs.existsSync(path.join(b, '1-upstream', '.venv', 'bin', 'python')), "the slot's .venv is still there");
    assert.deepEqual(pick(two.verifications[0].checks['pytest-collect']), { passed: false, count: 0 });
    assert.match(fs.readFileSync(path.join(inB('2'), 'checks/verify-1/pytest-collect.txt'), 'utf8'), /ModuleNotFoundError/);
    assert.equal(fs.readJsonSync(path.join(inA('1'), 'status.json')).verifications, undefined, "workspace A's copy is not B's to change");
    assert.equal(hasObject(path.join(b, '.ptg', 'mirror.git'), newer), true, 'the base commit was fetched into the mirror');
    assert.equal(git(path.join(b, '1-upstream'), 'status', '--porcelain'), '', "B's slot is not touched");
    assert.notEqual(git(path.join(b, '1-upstream'), 'rev-parse', 'HEAD'), newer);
    assert.equal(JSON.parse(fs.readFileSync(path.join(b, '.ptg', 'runs', 'v1', runId, 'manifest.json'), 'utf8')).experiments[0].checks['pytest-collect'], true);

    // A base commit nowhere to be had: that experiment is not verified, with the reason; exit 1.
    fs.writeJsonSync(path.join(inB('2'), 'status.json'), { ...two, baseCommit: 'f'.repeat(40) });
    const lost = await ptg(['verify', 'v1', runId, '--workspace', b], { cwd: root });
    assert.equal(lost.code, 1, lost.stderr);
    assert.match(lost.stdout, /not verified: its base commit ffffffffffff is neither in this workspace's mirror nor upstream/);
    assert.equal(fs.readJsonSync(path.join(inB('1'), 'status.json')).verifications.length, 2, 'the other experiment is verified');
    // A base commit that is no commit id (a pack is data from elsewhere): one line, and git never sees it.
    const marker = path.join(dir, 'upload-pack-ran');
    fs.writeJsonSync(path.join(inB('2'), 'status.json'), { ...two, baseCommit: `--upload-pack=touch ${marker}` });
    const odd = await ptg(['verify', 'v1', runId, '--workspace', b, '--stp', '2'], { cwd: root });
    assert.equal(odd.code, 1, odd.stderr);
    assert.ok(odd.stdout.includes(`not verified: its base commit "--upload-pack=touch ${marker}" in status.json is no commit id`), odd.stdout);
    assert.equal(fs.existsSync(marker), false);
    // No mirror: nothing to check out.
    fs.removeSync(path.join(b, '.ptg', 'mirror.git'));
    const bare = await ptg(['verify', 'v1', runId, '--workspace', b, '--stp', '1'], { cwd: root });
    assert.equal(bare.code, 1, bare.stderr);
    assert.ok(bare.stdout.includes(`not verified: this workspace has no mirror of the target (${path.join(b, '.ptg', 'mirror.git')}): run \`ptg setup\``), bare.stdout);
  });
});

function hasObject(repo: string, commit: string): boolean {
  try {
    execFileSync('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: repo, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();
}

function pick(result: { passed: boolean | null; count: number | null }) {
  return { passed: result.passed, count: result.count };
}
