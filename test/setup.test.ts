import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import fs from 'fs-extra';
import { git, makeRoot, makeUpstream, ptg, pushCommit, tmpDir } from './support/fixtures.js';

function setupFixture(opts: Parameters<typeof makeRoot>[1] = {}) {
  const dir = tmpDir();
  const upstream = makeUpstream(dir);
  const root = makeRoot(dir, opts);
  const ws = path.join(root, 'parallel');
  return { dir, upstream, root, ws, url: `file://${upstream}`, slot: (id: string) => path.join(ws, `${id}-upstream`) };
}

describe('ptg setup', () => {
  test('makes one independent checkout per STP from a file:// URL, installs versions, records state', async () => {
    const f = setupFixture();
    const r = await ptg(['setup', '--repo', f.url, '--no-python'], { cwd: f.root });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /3\/3 slots ready/);
    assert.match(r.stdout, /Next: ptg run v1/);
    const head = git(f.upstream, 'rev-parse', 'main');
    for (const id of ['1', '2', '3']) {
      const slot = f.slot(id);
      assert.equal(git(slot, 'rev-parse', 'HEAD'), head);
      assert.equal(git(slot, 'status', '--porcelain'), '', 'installed files must not show in git status');
      assert.equal(fs.readFileSync(path.join(slot, '.claude/commands/v1-unified-prompt.md'), 'utf8'), 'Write pytest tests for this plan:\n${STP_CONTENT}\n');
      assert.ok(fs.existsSync(path.join(slot, '.claude/commands/v2-orchestrator.md')));
      assert.ok(fs.existsSync(path.join(slot, '.claude/skills/v2-generate-pytest/SKILL.md')));
      assert.ok(fs.existsSync(path.join(slot, '.claude/skills/v2-generate-pytest/templates/test.py.tmpl')), 'whole skill folders are copied');
      assert.ok(fs.existsSync(path.join(slot, '.claude/skills/v2-pyright-heal/SKILL.md')), 'an already prefixed skill keeps its name');
      assert.ok(!fs.existsSync(path.join(slot, '.claude/skills/v2-v2-pyright-heal')));
      const exclude = fs.readFileSync(path.join(slot, '.git/info/exclude'), 'utf8');
      for (const pattern of ['/*_experiment_*/', '/.claude/', '/.venv/']) assert.ok(exclude.includes(pattern), pattern);
      const state = fs.readJsonSync(path.join(f.ws, '.ptg/slots', `${id}-upstream.json`));
      assert.equal(state.baseCommit, head);
      assert.deepEqual(state.versions.map((v: { version: string }) => v.version), ['v1', 'v2']);
      assert.match(state.versions[0].hash, /^[0-9a-f]{64}$/);
      assert.equal(state.python.status, 'skipped');
    }
    // One network transfer: the mirror is the only clone of the upstream; slots come from it, and keep no remote to it.
    assert.equal(git(f.slot('1'), 'remote'), '');
    // Slots share the mirror's objects by hard links: it must never prune them.
    assert.equal(git(path.join(f.ws, '.ptg', 'mirror.git'), 'config', 'gc.auto'), '0');
  });

  test('a slot at an older commit holds its ancestors only: no later commit, no ref, no remote; --history none the one commit; older slots are trimmed', async () => {
    const f = setupFixture({ stps: { '1': 'one' } });
    const older = git(f.upstream, 'rev-parse', 'main');
    pushCommit(f.upstream, 'tests/test_later.py', 'def test_written_later(): pass\n');
    git(f.upstream, 'tag', 'v-later');
    const visible = (slot: string) => ({
      all: git(slot, 'rev-list', '--all', '--reflog'),
      head: git(slot, 'rev-list', 'HEAD'),
      refs: git(slot, 'for-each-ref', '--format=%(refname)').split('\n').filter((r) => r && !r.startsWith('refs/heads/')),
      remotes: git(slot, 'remote'),
    });
    const r = await ptg(['setup', '--repo', f.url, '--ref', older, '--no-python'], { cwd: f.root });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    let v = visible(f.slot('1'));
    assert.equal(v.all, v.head);
    assert.equal(git(f.slot('1'), 'rev-parse', 'HEAD'), older);
    assert.deepEqual(v.refs, []);
    assert.equal(v.remotes, '');
    assert.ok(!fs.existsSync(path.join(f.slot('1'), 'tests/test_later.py')));

    // A slot as an older ptg made it (a full clone with a remote to the mirror) is trimmed by the next setup, and doctor says so first.
    fs.removeSync(f.slot('1'));
    execFileSync('git', ['clone', '-q', '--no-checkout', path.join(f.ws, '.ptg', 'mirror.git'), f.slot('1')]);
    git(f.slot('1'), 'checkout', '-q', '--detach', older);
    const doctor = await ptg(['doctor'], { cwd: f.root });
    assert.match(doctor.stdout, /slot history.*can see past its base in 1-upstream \(remote origin/);
    const again = await ptg(['setup', '--repo', f.url, '--ref', older, '--no-python'], { cwd: f.root });
    assert.equal(again.code, 0, again.stderr + again.stdout);
    assert.match(again.stdout, /trimmed/);
    v = visible(f.slot('1'));
    assert.equal(v.all, v.head);
    assert.deepEqual(v.refs, []);
    assert.equal(v.remotes, '');
    assert.equal(git(f.slot('1'), 'status', '--porcelain'), '');
    const later = git(f.upstream, 'rev-parse', 'main');
    assert.throws(() => execFileSync('git', ['-C', f.slot('1'), 'cat-file', '-e', `${later}^{commit}`], { stdio: 'pipe' }), 'the later commit is no object of the slot');

    const none = await ptg(['setup', '--repo', f.url, '--ref', older, '--history', 'none', '--no-python'], { cwd: f.root });
    assert.equal(none.code, 0, none.stderr + none.stdout);
    assert.equal(git(f.slot('1'), 'rev-list', '--all', '--reflog'), older);
    const bad = await ptg(['setup', '--repo', f.url, '--history', 'all', '--no-python'], { cwd: f.root });
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  });

  test('accepts a plain path, and a re-run is idempotent', async () => {
    const f = setupFixture({ stps: { '1': 'one' } });
    assert.equal((await ptg(['setup', '--repo', f.upstream, '--no-python'], { cwd: f.root })).code, 0);
    const before = fs.readFileSync(path.join(f.slot('1'), '.claude/commands/v2-orchestrator.md'), 'utf8');
    const again = await ptg(['setup', '--repo', f.upstream, '--no-python'], { cwd: f.root });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /up to date/);
    assert.equal(fs.readFileSync(path.join(f.slot('1'), '.claude/commands/v2-orchestrator.md'), 'utf8'), before);
  });

  test('clean slots follow a new upstream commit; a dirty slot keeps its work and is reported', async () => {
    const f = setupFixture({ stps: { '1': 'one', '2': 'two' } });
    assert.equal((await ptg(['setup', '--repo', f.url, '--no-python'], { cwd: f.root })).code, 0);
    fs.outputFileSync(path.join(f.slot('2'), 'tests/my_work.py'), 'precious = 1\n');
    fs.appendFileSync(path.join(f.slot('2'), 'README.md'), 'edited\n');
    const next = pushCommit(f.upstream, 'tests/new_upstream.py', 'x = 1\n');
    const r = await ptg(['setup', '--repo', f.url, '--no-python'], { cwd: f.root });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /STP 2: has uncommitted changes: left untouched/);
    assert.equal(git(f.slot('1'), 'rev-parse', 'HEAD'), next);
    assert.ok(fs.existsSync(path.join(f.slot('1'), 'tests/new_upstream.py')));
    assert.equal(fs.readFileSync(path.join(f.slot('2'), 'tests/my_work.py'), 'utf8'), 'precious = 1\n');
    assert.match(fs.readFileSync(path.join(f.slot('2'), 'README.md'), 'utf8'), /edited/);
    assert.notEqual(git(f.slot('2'), 'rev-parse', 'HEAD'), next);
  });

  test('slots are independent: a branch or commit in one never appears in another', async () => {
    const f = setupFixture({ stps: { '1': 'one', '2': 'two' } });
    assert.equal((await ptg(['setup', '--repo', f.url, '--no-python'], { cwd: f.root })).code, 0);
    git(f.slot('1'), 'checkout', '-q', '-b', 'agent-branch');
    fs.outputFileSync(path.join(f.slot('1'), 'tests/gen.py'), 'x = 1\n');
    git(f.slot('1'), 'add', '.');
    git(f.slot('1'), 'commit', '-qm', 'agent commit');
    assert.equal(git(f.slot('2'), 'branch', '--list', 'agent-branch'), '');
    assert.ok(!fs.existsSync(path.join(f.slot('2'), 'tests/gen.py')));
    assert.throws(() => git(f.slot('2'), 'cat-file', '-e', git(f.slot('1'), 'rev-parse', 'HEAD')));
  });

  test('removes files it installed that are gone from the root, never files it did not install', async () => {
    const f = setupFixture({ stps: { '1': 'one' } });
    assert.equal((await ptg(['setup', '--repo', f.url, '--no-python'], { cwd: f.root })).code, 0);
    const slot = f.slot('1');
    fs.outputFileSync(path.join(slot, '.claude/commands/mine.md'), 'user file\n');
    fs.outputFileSync(path.join(slot, '.claude/settings.json'), '{}\n');
    fs.removeSync(path.join(f.root, 'v2/skills/generate-pytest'));
    fs.outputFileSync(path.join(f.root, 'v2/orchestrator.md'), 'changed\n');
    assert.equal((await ptg(['setup', '--repo', f.url, '--no-python'], { cwd: f.root })).code, 0);
    assert.ok(!fs.existsSync(path.join(slot, '.claude/skills/v2-generate-pytest')));
    assert.ok(fs.existsSync(path.join(slot, '.claude/skills/v2-pyright-heal/SKILL.md')));
    assert.equal(fs.readFileSync(path.join(slot, '.claude/commands/v2-orchestrator.md'), 'utf8'), 'changed\n');
    assert.equal(fs.readFileSync(path.join(slot, '.claude/commands/mine.md'), 'utf8'), 'user file\n');
    assert.ok(fs.existsSync(path.join(slot, '.claude/settings.json')));
  });

  test('the ignored-path baseline it records is what git sees: a fresh clone, Python, a re-run, an agent leftover, a slot made again', async () => {
    // Setup records some of these without asking git (a fresh clone, an untouched re-run): each must equal git's answer.
    const dir = tmpDir();
    const upstream = makeUpstream(dir, { '.gitignore': 'build/\n*.egg-info/\n' });
    const python = ['mkdir -p pkg.egg-info && touch pkg.egg-info/PKG-INFO'];
    const root = makeRoot(dir, { stps: { '1': 'one', '2': 'two' }, config: { python } });
    const ws = path.join(root, 'parallel');
    const slot = (id: string) => path.join(ws, `${id}-upstream`);
    const recorded = (id: string): string[] => fs.readJsonSync(path.join(ws, '.ptg/slots', `${id}-upstream.json`)).ignoredBaseline;
    const gitSees = (id: string) =>
      git(slot(id), 'status', '--porcelain=v2', '--ignored=traditional', '-z').split('\0').filter((e) => e.startsWith('! ') && !e.startsWith('! .claude/')).map((e) => e.slice(2));
    const setUp = async (...flags: string[]) => {
      const r = await ptg(['setup', '--repo', upstream, ...flags], { cwd: root });
      assert.equal(r.code, 0, r.stdout + r.stderr);
    };

    await setUp('--no-python');
    for (const id of ['1', '2']) assert.deepEqual(recorded(id), [], 'a fresh clone');
    await setUp();
    for (const id of ['1', '2']) assert.deepEqual([recorded(id), gitSees(id)], [['pkg.egg-info/'], ['pkg.egg-info/']], 'after Python');

    fs.outputFileSync(path.join(slot('1'), 'build/out.log'), 'an agent was here\n');
    await setUp('--no-python');
    assert.ok(!fs.existsSync(path.join(slot('1'), 'build')), 'the leftover is removed');
    for (const id of ['1', '2']) assert.deepEqual([recorded(id), gitSees(id)], [['pkg.egg-info/'], ['pkg.egg-info/']], 'a re-run');

    fs.removeSync(slot('2'));
    await setUp('--no-python');
    assert.deepEqual([recorded('2'), gitSees('2')], [[], []], 'made again over its old record');
  });

  test('a path in the way that is not a checkout fails that slot only', async () => {
    const f = setupFixture({ stps: { '1': 'one', '2': 'two' } });
    fs.outputFileSync(path.join(f.slot('1'), 'notes.txt'), 'mine\n');
    const r = await ptg(['setup', '--repo', f.url, '--no-python'], { cwd: f.root });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /STP 1: .*exists and is not a git checkout/);
    assert.equal(fs.readFileSync(path.join(f.slot('1'), 'notes.txt'), 'utf8'), 'mine\n');
    assert.ok(fs.existsSync(path.join(f.slot('2'), '.git')));
  });

  describe('bad input: one line, the right exit code', () => {
    const cases: [string, (root: string) => void, RegExp, number][] = [
      ['no stps/ folder', (root) => fs.removeSync(path.join(root, 'stps')), /No stps\/ folder/, 2],
      ['no STP files', (root) => fs.emptyDirSync(path.join(root, 'stps')), /No STP files/, 2],
      ['no version folder', (root) => (fs.removeSync(path.join(root, 'v1')), fs.removeSync(path.join(root, 'v2'))), /No version folder/, 2],
      ['a version folder without prompt.md or orchestrator.md', (root) => fs.ensureDirSync(path.join(root, 'v3')), /v3\/ has neither prompt.md/, 2],
      ['an unknown config key', (root) => fs.writeJsonSync(path.join(root, 'ptg.config.json'), { repo: 'x', colour: 'red' }), /unknown key "colour"/, 2],
      ['a config value of the wrong type', (root) => fs.writeJsonSync(path.join(root, 'ptg.config.json'), { concurrency: '8' }), /"concurrency": .*number/, 2],
      ['an unknown STP', () => {}, /Unknown STP 9/, 2],
    ];
    for (const [name, breakIt, message, code] of cases) {
      test(name, async () => {
        const f = setupFixture();
        breakIt(f.root);
        const r = await ptg(['setup', '--repo', f.url, '--no-python', ...(name === 'an unknown STP' ? ['--stp', '9'] : [])], { cwd: f.root });
        assert.equal(r.code, code, r.stderr);
        assert.match(r.stderr, message);
        assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      });
    }

    test('an unreachable repository: exit 1 with git\'s reason', async () => {
      const f = setupFixture();
      const r = await ptg(['setup', '--repo', `file://${f.dir}/nowhere.git`, '--no-python'], { cwd: f.root });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Cannot fetch .*nowhere\.git: .*(does not appear|not found|not exist)/);
    });

    test('a --root that does not exist', async () => {
      const r = await ptg(['setup', '--root', '/nonexistent/ptg-root', '--no-python']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /Root folder \/nonexistent\/ptg-root does not exist/);
    });
  });

  describe('Python environment', () => {
    test('without uv: python3 -m venv and pip install pyright and pytest, skipped when already working', async () => {
      const f = setupFixture({ stps: { '1': 'one' } });
      // Where pip's default index is out of reach (this machine: a local mirror and no network),
      // its retries cost about 7 s per package; the mirror answers at once.
      const env = { PIP_RETRIES: '0' };
      const r = await ptg(['setup', '--repo', f.url], { cwd: f.root, env });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const python = path.join(f.slot('1'), '.venv/bin/python');
      execFileSync(python, ['-c', 'import pyright, pytest']);
      assert.equal(fs.readJsonSync(path.join(f.ws, '.ptg/slots/1-upstream.json')).python.status, 'ready');
      const again = await ptg(['setup', '--repo', f.url], { cwd: f.root, env });
      assert.equal(again.code, 0);
      assert.match(again.stdout, /python: already set up/);
    });

    test('neither uv nor python3: the slot says why, the others go on, exit 1', async () => {
      const f = setupFixture({ stps: { '1': 'one', '2': 'two' } });
      const bin = path.join(f.dir, 'bin');
      fs.ensureDirSync(bin);
      fs.symlinkSync(execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim(), path.join(bin, 'git'));
      const r = await ptg(['setup', '--repo', f.url], { cwd: f.root, env: { PATH: bin } });
      assert.equal(r.code, 1);
      assert.match(r.stdout, /STP 1: Python: neither uv nor python3 is on PATH/);
      assert.match(r.stdout, /STP 2: Python: neither uv nor python3 is on PATH/);
      assert.ok(fs.existsSync(path.join(f.slot('2'), '.claude/commands/v1-unified-prompt.md')), 'the rest of setup still happened');
    });

    test('configured commands that fail are reported with the command', async () => {
      const f = setupFixture({ stps: { '1': 'one' }, config: { python: ['echo making env', 'echo broken >&2; exit 3'] } });
      const r = await ptg(['setup', '--repo', f.url], { cwd: f.root });
      assert.equal(r.code, 1);
      assert.match(r.stdout, /STP 1: Python: `echo broken >&2; exit 3` exited with 3: broken/);
    });
  });
});
