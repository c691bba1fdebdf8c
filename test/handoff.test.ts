// `ptg handoff`: the session of an experiment opened again in its slot with its files in place,
// with the fake agent (test/support/fake-agent.mjs) standing in for `claude --resume`. It keeps
// its sessions where Claude Code does, under a throw-away CLAUDE_CONFIG_DIR.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import fs from 'fs-extra';
import { claudeSessionFile, handoffArgs, sessionArgs } from '../src/core/run/handoff.js';
import { FAKE_AGENT, git, isAlive, ptg, pushCommit, runIdOf, setUpWorkspace, waitFor } from './support/fixtures.js';

const write = (file: string, text: string) => `fake: write ${file} ${JSON.stringify(text)}\n`;
const GOOD_PY = 'def test_one() -> None:\n    assert True\n';

/** A workspace where v1 ran once on STP 1, which wrote tests/test_one.py; STP 2's agent hangs. */
async function ranOnce() {
  const w = await setUpWorkspace({ '1': `# STP 1\n${write('tests/test_one.py', GOOD_PY)}`, '2': '# STP 2\nfake: hang\n' });
  const record = path.join(w.dir, 'record');
  const env = { CLAUDE_CONFIG_DIR: path.join(w.dir, 'claude-config'), FAKE_AGENT_RECORD: record };
  const run = await w.run(['v1', '--stp', '1'], { env });
  assert.equal(run.code, 0, run.stderr);
  const runId = runIdOf(run.stdout);
  return {
    ...w,
    env,
    runId,
    status: (id = runId) => fs.readJsonSync(path.join(w.expDir('1', 'v1', id), 'status.json')),
    handoff: (args: string[], opts: Parameters<typeof ptg>[1] = {}) => ptg(['handoff', 'v1', ...args], { cwd: w.root, ...opts, env: { IS_SANDBOX: '1', ...env, ...opts.env } }),
    /** What the resumed fake agent saw, once it has started. */
    resumed: (slot = '1-upstream') => fs.readJsonSync(path.join(record, `${slot}.resume.json`), { throws: false }) ?? undefined,
    /** `ptg setup` again: the slot goes back to its base, the experiment's files out of it. */
    setupAgain: async (args: string[] = []) => {
      const r = await ptg(['setup', '--repo', w.upstream, '--no-python', ...args], { cwd: w.root });
      assert.equal(r.code, 0, r.stdout + r.stderr);
    },
  };
}

describe('ptg handoff', () => {
  test("resumes the session in the slot with the experiment's files in place and only its version installed; they stay after", async () => {
    const w = await ranOnce();
    await w.setupAgain();
    const file = path.join(w.slot('1'), 'tests/test_one.py');
    assert.ok(!fs.existsSync(file), 'setup emptied the slot');

    const r = await w.handoff(['--stp', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Resumed fake-session-1\n', "the agent's output is ptg's");
    const seen = w.resumed();
    assert.deepEqual(seen.argv, ['--resume', 'fake-session-1', '--dangerously-skip-permissions'], "the run's -p stream-json mode is left out");
    assert.equal(seen.cwd, w.slot('1'));
    assert.equal(seen.files['tests/test_one.py'], GOOD_PY, 'the generated file is there while the agent runs');
    const installed = Object.keys(seen.files).filter((f) => f.startsWith('.claude/'));
    assert.deepEqual(installed, ['.claude/commands/v1-unified-prompt.md'], 'the other versions are parked, as in the run');
    assert.ok(seen.env.includes('PTG_MARKER') && seen.env.includes('IS_SANDBOX'), seen.env.join(' '));

    assert.equal(fs.readFileSync(file, 'utf8'), GOOD_PY, 'the files stay for the user to look at');
    assert.ok(fs.existsSync(path.join(w.slot('1'), '.claude/commands/v2-orchestrator.md')), 'the other versions are back');
    assert.ok(!fs.existsSync(path.join(w.ws, '.ptg/locks/1-upstream.lock')), 'the lock is released');
    assert.match(r.stderr, new RegExp(`${w.slot('1')} holds the files of v1 ${w.runId} STP 1: base \\w{10} with its changes.patch \\(1 files\\)`));
    assert.match(r.stderr, /the next `ptg run` resets it, saving it as a patch first if anything changed since the handoff\.$/m);
  });

  test('--print asks one question headless: only the answer on stdout, and the exit code is the agent\'s', async () => {
    const w = await ranOnce();
    const r = await w.handoff([w.runId, '--stp', '1', '--print', 'Which tests did you write?'], { env: { FAKE_AGENT_RESUME_EXIT: '3' } });
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'Answer to: Which tests did you write?\n');
    const seen = w.resumed();
    assert.deepEqual(seen.argv, ['-p', '--resume', 'fake-session-1', '--dangerously-skip-permissions', '--output-format', 'text']);
    assert.equal(seen.question, 'Which tests did you write?', 'the question goes on stdin, as a run\'s prompt does');
    assert.equal(seen.files['tests/test_one.py'], GOOD_PY);
  });

  test('refuses while a run holds the slot, naming the run; a run refuses while a handoff holds it; ending ptg ends its agent', async () => {
    const w = await ranOnce();
    // STP 2's agent hangs: its run holds slot 2.
    let runPid = 0;
    const running = w.run(['v1', '--stp', '2'], { env: w.env, onSpawn: (pid) => (runPid = pid) });
    const hanging = await waitFor('the hanging agent', () => {
      const dir = w.findExp('2');
      const status = dir && fs.readJsonSync(path.join(dir, 'status.json'), { throws: false });
      return status?.pid ? { runId: status.runId as string, pid: status.pid as number } : undefined;
    });
    const refused = await w.handoff([hanging.runId, '--stp', '2']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, new RegExp(`^ptg: Slot 2-upstream is in use by run v1 ${hanging.runId} \\(pid ${runPid}\\): wait for it to end, then hand off again\\.\\n$`));
    assert.ok(isAlive(hanging.pid), "the run's agent runs on, untouched");
    process.kill(runPid, 'SIGTERM');
    assert.equal((await running).code, 143);

    let handoffPid = 0;
    // Unsandboxed: the agent records its pid, the machine's only outside a PID namespace.
    const handing = w.handoff([w.runId, '--stp', '1', '--sandbox', 'none'], { env: { FAKE_AGENT_RESUME_HANG: '1' }, onSpawn: (pid) => (handoffPid = pid) });
    await Promise.race([waitFor('the resumed agent', () => w.resumed()), handing.then((r) => assert.fail(`ptg handoff ended first: ${r.code} ${r.stderr}`))]);
    const run = await w.run(['v1', '--stp', '1'], { env: w.env });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, new RegExp(`Slot 1-upstream is in use by ptg handoff of v1 ${w.runId} \\(pid ${handoffPid}\\)`));
    const agent = w.resumed().pid as number;
    // The terminal's Ctrl-C reaches the agent itself (it shares ptg's process group): ptg lets it be.
    process.kill(handoffPid, 'SIGINT');
    process.kill(handoffPid, 'SIGTERM');
    const ended = await handing;
    assert.equal(ended.code, 143, 'ptg ignored SIGINT, passed SIGTERM on, and exits as its agent did');
    assert.equal(isAlive(agent), false, `the agent (pid ${agent}) outlived ptg`);
    assert.ok(fs.existsSync(path.join(w.slot('1'), '.claude/commands/v2-orchestrator.md')), 'the other versions are back however it ends');
    assert.equal((await w.run(['v1', '--stp', '1'], { env: w.env })).code, 0, 'the slot is free again');
  });

  test("a session gone from Claude Code's store: says so, puts the files back all the same, exits 1", async () => {
    const w = await ranOnce();
    await w.setupAgain();
    fs.removeSync(path.join(w.env.CLAUDE_CONFIG_DIR, 'projects'));
    const r = await w.handoff(['--stp', '1']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^ptg: Claude Code has no session fake-session-1 for this slot \(no \S+\/projects\/\S+\/fake-session-1\.jsonl\): its store was cleaned, or the run came from another machine\.$/m);
    assert.match(r.stderr, new RegExp(`^The files are in place all the same; start a fresh session on them with: cd ${w.slot('1')} && \\S+fake-agent\\.mjs$`, 'm'));
    assert.equal(fs.readFileSync(path.join(w.slot('1'), 'tests/test_one.py'), 'utf8'), GOOD_PY);
    assert.equal(w.resumed(), undefined, 'no agent started');
    assert.ok(fs.existsSync(path.join(w.slot('1'), '.claude/commands/v2-orchestrator.md')), 'nothing is left parked');
  });

  test("a run from another machine (its pack unpacked into this workspace): no session here, the files come from the pack", async () => {
    const w = await ranOnce();
    const packed = await ptg(['pack', 'v1', w.runId, '--out', w.dir], { cwd: w.root });
    assert.equal(packed.code, 0, packed.stderr);
    await w.setupAgain(['--workspace', 'other']);
    const other = path.join(w.root, 'other');
    execFileSync('tar', ['-xzf', path.join(w.dir, `ptg-pack_v1_${w.runId}.tar.gz`), '-C', other]);
    fs.removeSync(path.join(w.ws, 'experiments')); // the first machine's folders are not here
    // Nor its agent: the one a run would start here stands in.
    const manifest = path.join(other, '.ptg', 'runs', 'v1', w.runId, 'manifest.json');
    fs.writeJsonSync(manifest, { ...fs.readJsonSync(manifest), agent: { ...fs.readJsonSync(manifest).agent, command: '/elsewhere/bin/claude' } });
    const r = await w.handoff(['--stp', '1', '--workspace', 'other'], { env: { PTG_AGENT: FAKE_AGENT } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Claude Code has no session fake-session-1 for this slot/);
    assert.ok(r.stderr.includes(`start a fresh session on them with: cd ${path.join(other, '1-upstream')} && ${FAKE_AGENT}\n`), r.stderr);
    assert.equal(fs.readFileSync(path.join(other, '1-upstream', 'tests/test_one.py'), 'utf8'), GOOD_PY);
  });

  test('unsaved work in the slot is saved as a patch first, and the patch named', async () => {
    const w = await ranOnce();
    fs.appendFileSync(path.join(w.slot('1'), 'README.md'), 'hand edit\n');
    fs.writeFileSync(path.join(w.slot('1'), 'notes.txt'), 'mine\n');
    const r = await w.handoff(['--stp', '1', '--print', 'q']);
    assert.equal(r.code, 0, r.stderr);
    const saved = /^Unsaved work in slot 1-upstream saved to (\S+\.patch)$/m.exec(r.stderr)?.[1];
    assert.ok(saved && saved.startsWith(path.join(w.ws, '.ptg', 'saved')), r.stderr);
    const patch = fs.readFileSync(saved, 'utf8');
    assert.match(patch, /\+hand edit/);
    assert.match(patch, /\+\+\+ b\/notes\.txt/);
    const seen = w.resumed();
    assert.equal(seen.files['README.md'], '# target\n');
    assert.equal(seen.files['notes.txt'], undefined);
    assert.equal(seen.files['tests/test_one.py'], GOOD_PY);
  });

  test('the next run after a handoff saves nothing when the slot is as the handoff left it, and saves what changed during it', async () => {
    const w = await ranOnce();
    assert.equal((await w.handoff(['--stp', '1', '--print', 'q'])).code, 0);
    const second = await w.run(['v1', '--stp', '1'], { env: w.env });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(w.status(runIdOf(second.stdout)).savedPatch, undefined, 'the applied changes.patch is not saved again');

    const edited = await w.handoff(['--stp', '1', '--print', 'q'], { env: { FAKE_AGENT_RESUME_WRITE: 'README.md' } });
    assert.equal(edited.code, 0, edited.stderr);
    const third = await w.run(['v1', '--stp', '1'], { env: w.env });
    const saved = w.status(runIdOf(third.stdout)).savedPatch;
    assert.ok(saved, 'the work of the resumed session is saved');
    assert.match(fs.readFileSync(saved, 'utf8'), /\+written during the handoff/);
  });

  test("an experiment made on an earlier base: the handoff checks that base out; the next run goes back to the slot's base, saving and keeping nothing", async () => {
    const w = await ranOnce();
    const oldBase = w.status().baseCommit;
    const newBase = pushCommit(w.upstream, 'docs/new.md', 'new\n');
    await w.setupAgain();
    assert.equal(git(w.slot('1'), 'rev-parse', 'HEAD'), newBase);

    const r = await w.handoff(['--stp', '1', '--print', 'q']);
    assert.equal(r.code, 0, r.stderr);
    const seen = w.resumed();
    assert.equal(seen.files['tests/test_one.py'], GOOD_PY);
    assert.equal(seen.files['docs/new.md'], undefined, 'the files as the agent had them, on its base');
    assert.equal(git(w.slot('1'), 'rev-parse', 'HEAD'), oldBase);

    const next = await w.run(['v1', '--stp', '1'], { env: w.env });
    assert.equal(next.code, 0, next.stderr);
    const status = w.status(runIdOf(next.stdout));
    assert.equal(status.baseCommit, newBase);
    assert.equal(status.savedPatch, undefined);
    assert.equal(git(w.slot('1'), 'for-each-ref', 'refs/ptg/kept'), '', 'a base checked out by the handoff is no commit to keep');
  });

  test('names the experiment or refuses: no --stp, an STP the run does not have, one that never started', async () => {
    const w = await ranOnce();
    const none = await w.handoff([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^ptg: Name the experiment: ptg handoff <version> \[run-id\] --stp ID/);
    const missing = await w.handoff(['--stp', '9']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `ptg: Run ${w.runId} of v1 has no experiment of STP 9.\n`);
    // With --max-cost spent by the first repeat, the second never starts.
    const spent = await w.run(['v1', '--stp', '1', '--repeat', '2', '--max-cost', '0.001', '--run-id', 'spent'], { env: w.env });
    assert.equal(spent.code, 1, spent.stderr);
    const skipped = await w.handoff(['spent', '--stp', '1', '--repeat', '2']);
    assert.equal(skipped.code, 2);
    assert.equal(skipped.stderr, 'ptg: STP 1 of v1 spent never started (skipped): there is no session to hand off.\n');
    const which = await w.handoff(['spent', '--stp', '1']);
    assert.equal(which.code, 2);
    assert.equal(which.stderr, 'ptg: Run spent has 2 experiments of STP 1: say which with --repeat.\n');
  });
});

describe('handoff plan', () => {
  test("the run's arguments without their -p stream-json mode and budget, masked values from the environment again, the model and --agent-arg after", () => {
    const run = ['-p', '--dangerously-skip-permissions', '--output-format', 'stream-json', '--verbose', '--max-turns', '200', '--max-budget-usd=2', '--append-system-prompt', 'token ***API_TOKEN***', '--mcp-config', '***UNSET***'];
    const session = sessionArgs(run, 'opus', ['--debug'], { API_TOKEN: 's3cr3t' });
    assert.deepEqual(session, ['--dangerously-skip-permissions', '--max-turns', '200', '--append-system-prompt', 'token s3cr3t', '--mcp-config', '***UNSET***', '--model', 'opus', '--debug']);
    assert.deepEqual(handoffArgs('id-1', ['--x'], false), ['--resume', 'id-1', '--x']);
    assert.deepEqual(handoffArgs('id-1', ['--x'], true), ['-p', '--resume', 'id-1', '--x', '--output-format', 'text']);
  });

  test("Claude Code's session file: CLAUDE_CONFIG_DIR, else ~/.claude; the folder's real path with - for all but letters and digits, cut at 200 with a hash", async () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ptg-handoff-')));
    const slot = path.join(dir, 'v2.1_slot');
    fs.ensureDirSync(slot);
    fs.symlinkSync(slot, path.join(dir, 'link'));
    const slug = slot.replace(/[^a-zA-Z0-9]/g, '-');
    assert.equal(await claudeSessionFile({ CLAUDE_CONFIG_DIR: '/c' }, path.join(dir, 'link'), 'abc'), path.join('/c/projects', slug, 'abc.jsonl'));
    assert.equal(await claudeSessionFile({ HOME: '/h' }, slot, 'abc'), path.join('/h/.claude/projects', slug, 'abc.jsonl'));
    const long = path.join(dir, 'x'.repeat(230));
    const folder = path.basename(path.dirname(await claudeSessionFile({ CLAUDE_CONFIG_DIR: '/c' }, long, 'abc')));
    assert.match(folder, /^-.{199}-[0-9a-z]+$/);
    assert.equal(folder.slice(0, 200), long.replace(/[^a-zA-Z0-9]/g, '-').slice(0, 200));
    fs.removeSync(dir);
  });
});
