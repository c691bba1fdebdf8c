import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import fs from 'fs-extra';
import { git, isAlive, ptg, runIdOf, setUpWorkspace, tmpDir, waitFor } from './support/fixtures.js';

const write = (file: string, text: string) => `fake: write ${file} ${JSON.stringify(text)}\n`;
const GOOD_PY = 'def test_ok() -> None:\n    assert 1 + 1 == 2\n';
const BAD_PY = 'def test_bad() -> None:\n    x: int = "not an int"\n    assert x\n';

/** Pids of the fake agents' `sleep 600` grandchildren, read from their transcripts. */
function grandchildPids(files: string[]): number[] {
  return files.flatMap((f) => [...(fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '').matchAll(/grandchild pid (\d+)/g)].map((m) => Number(m[1])));
}

describe('ptg run', () => {
  test('records every experiment: status files, transcript, patch with new files, pyright verdict', async () => {
    const w = await setUpWorkspace({
      '1': `# STP 1\n${write('tests/virt/test_one.py', GOOD_PY)}fake: cost 0.5\nfake: turns 7\n`,
      '2': `# STP 2\n${write('tests/virt/test_two.py', BAD_PY)}fake: exit 3\n`,
      '3': `# STP 3\n${write('utilities/helpers.py', 'def helper() -> int:\n    return 2\n')}`,
    });
    const r = await w.run(['v1']);
    assert.equal(r.code, 1, r.stderr);
    const id = runIdOf(r.stdout);
    assert.match(id, /^\d{8}_\d{6}$/);
    assert.match(r.stdout, new RegExp(`Next: ptg collect v1 ${id}`));

    const one = w.expDir('1', 'v1', id);
    assert.equal(fs.readFileSync(path.join(one, 'status.txt'), 'utf8'), '[STP 1] ✓ Completed successfully\n');
    assert.equal(fs.readFileSync(path.join(w.expDir('2', 'v1', id), 'status.txt'), 'utf8'), '[STP 2] ✗ Failed with exit code 3\n');
    const s1 = fs.readJsonSync(path.join(one, 'status.json'));
    assert.equal(s1.state, 'succeeded');
    assert.equal(s1.exitCode, 0);
    assert.equal(s1.costUsd, 0.5);
    assert.equal(s1.turns, 7);
    assert.deepEqual(s1.tokens, { input: 1000, output: 200, cacheRead: 50, cacheCreation: 10 });
    assert.deepEqual(s1.testFiles, ['tests/virt/test_one.py']);
    assert.deepEqual(s1.pyright, { files: ['tests/virt/test_one.py'], errors: 0, warnings: 0 });
    const s2 = fs.readJsonSync(path.join(w.expDir('2', 'v1', id), 'status.json'));
    assert.equal(s2.state, 'failed');
    assert.equal(s2.exitCode, 3);
    assert.equal(s2.pyright.errors, 1, 'real pyright finds the type error');
    const diag = fs.readJsonSync(path.join(w.expDir('2', 'v1', id), 'pyright.json')).diagnostics[0];
    assert.equal(diag.file, 'tests/virt/test_two.py');
    assert.equal(diag.line, 2);

    const patch = fs.readFileSync(path.join(one, 'changes.patch'), 'utf8');
    assert.match(patch, /new file mode 100644/);
    assert.match(patch, /\+\+\+ b\/tests\/virt\/test_one.py/);
    assert.doesNotMatch(patch, /_experiment_|\.claude\//, 'ptg folders never appear in the patch');
    assert.equal(fs.readFileSync(path.join(one, 'changed-files.txt'), 'utf8'), 'A\ttests/virt/test_one.py\n');
    assert.equal(fs.readFileSync(path.join(one, 'files/tests/virt/test_one.py'), 'utf8'), GOOD_PY);
    const s3 = fs.readJsonSync(path.join(w.expDir('3', 'v1', id), 'status.json'));
    assert.deepEqual(s3.changedFiles, [{ status: 'M', path: 'utilities/helpers.py' }]);
    assert.deepEqual(s3.testFiles, []);

    const log = fs.readFileSync(path.join(one, 'claude.log'), 'utf8');
    assert.match(log, /^\[init\] model fake-model-1/m);
    assert.match(log, /^→ Write \{"file_path":".*test_one.py"\}$/m);
    assert.match(log, /^\[result\] success .*7 turns/m);
    assert.equal(fs.readFileSync(path.join(one, 'claude.jsonl'), 'utf8').trim().split('\n').length, 5);

    const manifest = fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1', id, 'manifest.json'));
    assert.equal(manifest.version, 'v1');
    assert.equal(manifest.state, 'finished');
    assert.equal(manifest.agent.version, '0.0.1 (fake agent)');
    assert.deepEqual(manifest.experiments.map((e: { stp: string; state: string }) => [e.stp, e.state]), [['1', 'succeeded'], ['2', 'failed'], ['3', 'succeeded']]);
    assert.match(manifest.experiments[0].promptSha256, /^[0-9a-f]{64}$/);
    assert.equal(manifest.experiments[0].baseCommit, git(w.upstream, 'rev-parse', 'main'));
  });

  test('prompts arrive byte-exact on stdin with the default arguments, no shell between', async () => {
    const tricky = '# STP 1\nPath C:\\new\\table \\t "quoted" \'single\' $HOME ${STP_CONTENT} $& `uname` ü→✓ 日本\n';
    const w = await setUpWorkspace({ '1': tricky, '2': '# STP 2\n' });
    const record = tmpDir('ptg-record-');
    const v1 = await w.run(['v1', '--agent-arg=--model', '--agent-arg', 'opus'], { env: { FAKE_AGENT_RECORD: record } });
    assert.equal(v1.code, 0, v1.stdout + v1.stderr);
    const stp = path.join(w.root, 'stps', '1.md');
    const expected = `Write pytest tests for this plan:\n${tricky}\nSTP File: ${stp}\n`;
    assert.equal(fs.readFileSync(path.join(record, '1-upstream.prompt'), 'utf8'), expected);
    assert.equal(fs.readFileSync(path.join(w.expDir('1', 'v1', runIdOf(v1.stdout)), 'prompt.md'), 'utf8'), expected);
    assert.deepEqual(fs.readJsonSync(path.join(record, '1-upstream.argv.json')), ['-p', '--dangerously-skip-permissions', '--output-format', 'stream-json', '--verbose', '--model', 'opus']);
    assert.equal(fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1', runIdOf(v1.stdout), 'manifest.json')).model, 'opus');

    const v2 = await w.run(['v2', '--stp', '2'], { env: { FAKE_AGENT_RECORD: record } });
    assert.equal(v2.code, 0);
    assert.equal(fs.readFileSync(path.join(record, '2-upstream.prompt'), 'utf8'), `/v2-orchestrator STP file path: ${path.join(w.root, 'stps', '2.md')}`);
  });

  test('an agent error (exit 0, is_error) and an agent that prints no JSON', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: error 529 Overloaded\n', '2': '# STP 2\nfake: plain\n', '3': '# STP 3\nfake: killed\n' });
    const r = await w.run(['v1']);
    assert.equal(r.code, 1);
    const id = runIdOf(r.stdout);
    const s1 = fs.readJsonSync(path.join(w.expDir('1', 'v1', id), 'status.json'));
    assert.equal(s1.state, 'agent_error');
    assert.equal(s1.agentError, 'API Error: 529 Overloaded');
    assert.equal(fs.readFileSync(path.join(w.expDir('1', 'v1', id), 'status.txt'), 'utf8'), '[STP 1] ✗ Agent error: API Error: 529 Overloaded\n');
    const s2 = fs.readJsonSync(path.join(w.expDir('2', 'v1', id), 'status.json'));
    assert.equal(s2.state, 'succeeded');
    assert.equal(fs.readFileSync(path.join(w.expDir('2', 'v1', id), 'claude.log'), 'utf8'), 'plain output for STP 2\nno JSON here\n');
    const s3 = fs.readJsonSync(path.join(w.expDir('3', 'v1', id), 'status.json'));
    assert.deepEqual([s3.state, s3.exitCode, s3.signal], ['failed', undefined, 'SIGKILL']);
    assert.equal(fs.readFileSync(path.join(w.expDir('3', 'v1', id), 'status.txt'), 'utf8'), '[STP 3] ✗ Killed by SIGKILL\n');
  });

  test('a slot ptg cannot use fails its own experiment; the others go on', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n', '2': '# STP 2\n' });
    fs.removeSync(path.join(w.slot('1'), '.git'));
    const r = await w.run(['v1']);
    assert.equal(r.code, 1, r.stderr);
    const id = runIdOf(r.stdout);
    const s1 = fs.readJsonSync(path.join(w.expDir('1', 'v1', id), 'status.json'));
    assert.equal(s1.state, 'failed');
    assert.match(s1.agentError, /^ptg could not run this experiment: .*1-upstream is not a git checkout any more: run `ptg setup`$/);
    assert.equal(fs.readJsonSync(path.join(w.expDir('2', 'v1', id), 'status.json')).state, 'succeeded');
    assert.equal((await ptg(['collect', 'v1'], { cwd: w.root })).code, 0);
    assert.match(fs.readFileSync(path.join(w.ws, `results_v1_${id}`, 'summary.md'), 'utf8'), /Agent error: ptg could not run this experiment/);
  });

  test('--timeout ends the agent and every process it started', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: grandchild\nfake: hang\n', '2': '# STP 2\n' });
    // The grandchild's pid is read from the agent's output: unsandboxed, where it is the machine's (sandboxed: sandbox.test.ts).
    const r = await w.run(['v1', '--timeout', '1s', '--sandbox', 'none']);
    assert.equal(r.code, 1);
    const id = runIdOf(r.stdout);
    const dir = w.expDir('1', 'v1', id);
    assert.equal(fs.readJsonSync(path.join(dir, 'status.json')).state, 'timed_out');
    assert.equal(fs.readFileSync(path.join(dir, 'status.txt'), 'utf8'), '[STP 1] ✗ Timed out after 1s\n');
    const [pid] = grandchildPids([path.join(dir, 'claude.log')]);
    assert.ok(pid, 'the fake agent started a grandchild');
    assert.equal(isAlive(pid!), false, 'the grandchild is gone');
    assert.equal(fs.readJsonSync(path.join(w.expDir('2', 'v1', id), 'status.json')).state, 'succeeded');
  });

  test('Ctrl-C: stops launching, ends every agent tree, marks running experiments interrupted, exits 130', async () => {
    const w = await setUpWorkspace({
      '1': '# STP 1\nfake: grandchild\nfake: hang\n',
      '2': `# STP 2\n${write('tests/test_partial.py', 'x = 1\n')}fake: grandchild\nfake: hang\n`,
      '3': '# STP 3\n',
    });
    let ptgPid = 0;
    // The grandchild's pid is read from the agent's output: unsandboxed, where it is the machine's (sandboxed: sandbox.test.ts).
    const running = w.run(['v1', '-j', '2', '--sandbox', 'none'], { onSpawn: (pid) => (ptgPid = pid) });
    const pids = await waitFor('both grandchildren', () => {
      const files = ['1', '2'].flatMap((id) => w.findExp(id, 'claude.jsonl') ?? []).map((dir) => path.join(dir, 'claude.jsonl'));
      const found = grandchildPids(files);
      return found.length === 2 && found;
    });
    process.kill(ptgPid, 'SIGINT');
    const r = await running;
    assert.equal(r.code, 130, r.stdout + r.stderr);
    const id = runIdOf(r.stdout);
    for (const stp of ['1', '2']) {
      const status = fs.readJsonSync(path.join(w.expDir(stp, 'v1', id), 'status.json'));
      assert.equal(status.state, 'interrupted');
      assert.equal(isAlive(status.pid), false);
    }
    for (const pid of pids) assert.equal(isAlive(pid), false, `grandchild ${pid} outlived ptg`);
    assert.ok(!fs.existsSync(w.expDir('3', 'v1', id)), 'STP 3 was never launched');
    const manifest = fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1', id, 'manifest.json'));
    assert.equal(manifest.state, 'interrupted');
    assert.equal(manifest.experiments[2].state, 'interrupted');
    assert.match(fs.readFileSync(path.join(w.expDir('2', 'v1', id), 'changes.patch'), 'utf8'), /test_partial\.py/, 'the interrupted agent\'s work is kept');
  });

  test('a second Ctrl-C quits at once, and still leaves no agent behind', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: ignore-term\nfake: grandchild\nfake: hang\n' });
    let ptgPid = 0;
    // The grandchild's pid is read from the agent's output: unsandboxed, where it is the machine's (sandboxed: sandbox.test.ts).
    const running = w.run(['v1', '--sandbox', 'none'], { onSpawn: (pid) => (ptgPid = pid) });
    const [grandchild] = await waitFor('the grandchild', () => {
      const dir = w.findExp('1', 'claude.jsonl');
      const found = dir ? grandchildPids([path.join(dir, 'claude.jsonl')]) : [];
      return found.length > 0 && found;
    });
    const agent: number = await waitFor('the agent\'s pid', () => {
      const dir = w.findExp('1');
      return dir && fs.readJsonSync(path.join(dir, 'status.json'), { throws: false })?.pid;
    });
    process.kill(ptgPid, 'SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(isAlive(agent), 'the agent ignores SIGTERM, so the first Ctrl-C is still waiting for it');
    const second = Date.now();
    process.kill(ptgPid, 'SIGINT');
    const r = await running;
    assert.equal(r.code, 130);
    assert.ok(Date.now() - second < 2000, 'the second Ctrl-C does not wait for the grace period');
    await waitFor('the agent and its grandchild to be gone', () => !isAlive(agent) && !isAlive(grandchild!), 3000);
  });

  test('secrets in the environment reach the agent and never the disk', async () => {
    const secret = 'sk-ant-test-DO-NOT-WRITE-0123456789';
    const w = await setUpWorkspace({ '1': '# STP 1\n' });
    const r = await w.run(['v1'], { env: { ANTHROPIC_API_KEY: secret, CLAUDE_CODE_OAUTH_TOKEN: secret } });
    assert.equal(r.code, 0);
    assert.equal((await ptg(['collect', 'v1'], { cwd: w.root })).code, 0);
    const grep = spawnSync('grep', ['-rl', '--', secret, w.ws], { encoding: 'utf8' });
    assert.equal(grep.status, 1, `the secret is in: ${grep.stdout}`);
  });

  test('-j limits how many agents run at once', async () => {
    const stps = Object.fromEntries(['1', '2', '3', '4', '5'].map((id) => [id, `# STP ${id}\nfake: sleep 400\n`]));
    const w = await setUpWorkspace(stps);
    const r = await w.run(['v1', '-j', '2']);
    assert.equal(r.code, 0, r.stderr);
    const id = runIdOf(r.stdout);
    const spans = Object.keys(stps).map((stp) => {
      const s = fs.readJsonSync(path.join(w.expDir(stp, 'v1', id), 'status.json'));
      return [Date.parse(s.startedAt), Date.parse(s.finishedAt)] as const;
    });
    const most = Math.max(...spans.map(([start]) => spans.filter(([a, b]) => a <= start && start < b).length));
    assert.equal(most, 2);
  });

  test('two runs in the same second get different run ids', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n', '2': '# STP 2\n' });
    const [a, b] = await Promise.all([w.run(['v1', '--stp', '1']), w.run(['v1', '--stp', '2'])]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.notEqual(runIdOf(a.stdout), runIdOf(b.stdout));
  });

  test('a run on a busy slot is refused, and its run id is given back', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: hang\n' });
    let ptgPid = 0;
    const first = w.run(['v1'], { onSpawn: (pid) => (ptgPid = pid) });
    await waitFor('the first run\'s agent', () => w.findExp('1'));
    const second = await w.run(['v1', '--run-id', 'refused']);
    assert.equal(second.code, 2);
    assert.match(second.stderr, /Slot 1-upstream is in use by run v1 /);
    assert.ok(!fs.existsSync(path.join(w.ws, '.ptg/runs/v1/refused')), 'the refused run id is not burnt');
    process.kill(ptgPid, 'SIGINT');
    assert.equal((await first).code, 130);
    const again = await w.run(['v1', '--run-id', 'refused', '--timeout', '1s']);
    assert.equal(again.code, 1, again.stderr);
    assert.ok(fs.existsSync(w.expDir('1', 'v1', 'refused')));
  });

  test('each experiment starts from the base commit; earlier and unsaved work is kept, never lost', async () => {
    const w = await setUpWorkspace({ '1': `# STP 1\n${write('tests/test_first.py', GOOD_PY)}` });
    const first = await w.run(['v1']);
    assert.equal(first.code, 0);
    // The user edits the slot after the run: that work is in no patch yet.
    fs.appendFileSync(path.join(w.slot('1'), 'README.md'), 'hand edit\n');
    fs.writeFileSync(path.join(w.root, 'stps', '1.md'), `# STP 1\n${write('tests/test_second.py', GOOD_PY)}`);
    const second = await w.run(['v1']);
    assert.equal(second.code, 0);
    const status = fs.readJsonSync(path.join(w.expDir('1', 'v1', runIdOf(second.stdout)), 'status.json'));
    assert.deepEqual(status.changedFiles, [{ status: 'A', path: 'tests/test_second.py' }], 'no trace of the first run');
    const saved = fs.readFileSync(status.savedPatch, 'utf8');
    assert.match(saved, /\+hand edit/);
    assert.match(saved, /test_first\.py/);
    // Applying the saved patch on the base brings the work back.
    git(w.slot('1'), 'checkout', '-q', '--force', '--detach', status.baseCommit);
    git(w.slot('1'), 'clean', '-qfd');
    git(w.slot('1'), 'apply', status.savedPatch);
    assert.equal(fs.readFileSync(path.join(w.slot('1'), 'tests/test_first.py'), 'utf8'), GOOD_PY);

    // A third run: the slot holds only what run 2 recorded, so nothing new is saved.
    git(w.slot('1'), 'checkout', '-q', '--force', '--detach', status.baseCommit);
    git(w.slot('1'), 'clean', '-qfd');
    git(w.slot('1'), 'apply', path.join(w.expDir('1', 'v1', runIdOf(second.stdout)), 'changes.patch'));
    const third = await w.run(['v1']);
    assert.equal(fs.readJsonSync(path.join(w.expDir('1', 'v1', runIdOf(third.stdout)), 'status.json')).savedPatch, undefined);
  });

  test('--resume re-runs only what did not succeed and keeps the earlier attempt', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n', '2': '# STP 2\nfake: exit 4\n' });
    const first = await w.run(['v1']);
    assert.equal(first.code, 1);
    const id = runIdOf(first.stdout);
    const oneBefore = fs.readFileSync(path.join(w.expDir('1', 'v1', id), 'status.json'), 'utf8');
    fs.writeFileSync(path.join(w.root, 'stps', '2.md'), '# STP 2\n');
    const again = await w.run(['v1', '--resume', id]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(runIdOf(again.stdout), id);
    assert.equal(fs.readFileSync(path.join(w.expDir('1', 'v1', id), 'status.json'), 'utf8'), oneBefore, 'STP 1 was not run again');
    const two = w.expDir('2', 'v1', id);
    assert.equal(fs.readJsonSync(path.join(two, 'status.json')).state, 'succeeded');
    assert.equal(fs.readFileSync(path.join(two, 'attempt-1', 'status.txt'), 'utf8'), '[STP 2] ✗ Failed with exit code 4\n');
    const manifest = fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1', id, 'manifest.json'));
    assert.deepEqual(manifest.experiments.map((e: { state: string; attempts: number }) => [e.state, e.attempts]), [['succeeded', 1], ['succeeded', 2]]);
    const nothing = await w.run(['v1', '--resume', id]);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /nothing to resume/);

    // A version edited after the run: resuming would label two versions' results as one.
    fs.writeFileSync(path.join(w.root, 'stps', '2.md'), '# STP 2\nfake: exit 4\n');
    const failed = runIdOf((await w.run(['v1'])).stdout);
    fs.appendFileSync(path.join(w.root, 'v1', 'prompt.md'), 'One more rule.\n');
    assert.equal((await ptg(['setup', '--repo', w.upstream, '--no-python'], { cwd: w.root })).code, 0);
    const mixed = await w.run(['v1', '--resume', failed]);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /v1 changed since run \S+ started: resuming would mix two versions/);
  });

  test('100 MB of output streams to disk', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: spam 100\n' });
    const r = await w.run(['v1']);
    assert.equal(r.code, 0, r.stderr);
    const dir = w.expDir('1', 'v1', runIdOf(r.stdout));
    assert.ok(fs.statSync(path.join(dir, 'claude.jsonl')).size >= 100 * 1024 * 1024);
    assert.equal(fs.readJsonSync(path.join(dir, 'status.json')).costUsd, 0.0125, 'the result after 100 MB was still read');
  });

  describe('refusals before anything starts: exit 2, one line', () => {
    test('unknown version lists the known ones', async () => {
      const w = await setUpWorkspace({ '1': '' });
      const r = await w.run(['v9']);
      assert.equal(r.code, 2);
      assert.equal(r.stderr.trim(), 'ptg: No version `v9`. Known versions: v1, v2.');
    });

    test('a workspace that is not set up', async () => {
      const w = await setUpWorkspace({ '1': '' });
      const r = await ptg(['run', 'v1', '--workspace', path.join(w.dir, 'elsewhere')], { cwd: w.root, env: { IS_SANDBOX: '1' } });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /is not set up: run `ptg setup` first/);
    });

    test('a missing agent binary says how to install Claude Code', async () => {
      const w = await setUpWorkspace({ '1': '' });
      const r = await ptg(['run', 'v1'], { cwd: w.root, env: { IS_SANDBOX: '1', PATH: '/nonexistent', PTG_AGENT: '' } });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /npm install -g @anthropic-ai\/claude-code/);
      const other = await ptg(['run', 'v1', '--agent', '/no/such/agent'], { cwd: w.root, env: { IS_SANDBOX: '1' } });
      assert.equal(other.code, 2);
      assert.match(other.stderr, /Agent `\/no\/such\/agent` not found/);
    });

    test('root without IS_SANDBOX=1', { skip: process.getuid?.() !== 0 && 'only as root' }, async () => {
      const w = await setUpWorkspace({ '1': '' });
      const r = await w.run(['v1'], { env: { IS_SANDBOX: '' } });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /Running as root: claude refuses --dangerously-skip-permissions unless IS_SANDBOX=1/);
      assert.ok(!fs.existsSync(path.join(w.ws, '.ptg/runs')), 'nothing started');
      const yes = await w.run(['v1'], { env: { IS_SANDBOX: 'yes' } });
      assert.equal(yes.code, 2);
      assert.match(yes.stderr, /unless IS_SANDBOX=1 \(it is "yes": claude accepts only 1\)/);
    });

    test('bad flag values', async () => {
      const w = await setUpWorkspace({ '1': '' });
      for (const [args, message] of [
        [['--timeout', 'soon'], /Invalid timeout "soon"/],
        [['-j', '0'], /--concurrency needs a whole number/],
        [['--stp', '7'], /Unknown STP 7/],
        [['--run-id', '../x'], /Invalid run id/],
      ] as const) {
        const r = await w.run(['v1', ...args]);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
      }
    });
  });
});
