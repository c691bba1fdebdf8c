// Issue 10: the guarantees hold however ptg is used and however it ends.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import fs from 'fs-extra';
import { spawn } from 'node:child_process';
import { killMarked, markedPids } from '../src/io/process/markers.js';
import { scratchPath } from '../src/io/process/spawner.js';
import { FAKE_AGENT, isAlive, ptg, runIdOf, setUpWorkspace, tmpDir, waitFor } from './support/fixtures.js';

const write = (file: string, text: string) => `fake: write ${file} ${JSON.stringify(text)}\n`;

/** Live processes whose environment carries `PTG_MARKER=<prefix>…` (read from /proc, as ptg does). */
function marked(prefix: string): number[] {
  const wanted = `PTG_MARKER=${prefix}`;
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        return readFileSync(`/proc/${n}/environ`, 'utf8').split('\0').some((v) => v.startsWith(wanted)) && isAlive(Number(n));
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Live processes whose environment or command line carries `prefix` (the watchdog has it in its argv). */
function ofRun(prefix: string): string[] {
  const found: string[] = [];
  for (const n of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    for (const what of ['environ', 'cmdline']) {
      try {
        if (readFileSync(`/proc/${n}/${what}`, 'utf8').includes(prefix)) found.push(`${n} (${readFileSync(`/proc/${n}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()})`);
      } catch {
        // ended meanwhile
      }
    }
  }
  return [...new Set(found)];
}

const manifestOf = (ws: string, id: string) => fs.readJsonSync(path.join(ws, '.ptg/runs/v1', id, 'manifest.json'));

describe('no agent outlives ptg', () => {
  test("one agent's marker is exact: ending agent 1 leaves agent 10 alone; the run's prefix takes both", async () => {
    const token = `test-${process.pid}/`;
    const start = (n: number) => spawn('sleep', ['600'], { env: { ...process.env, PTG_MARKER: `${token}${n}` }, stdio: 'ignore' });
    const [one, ten] = [start(1), start(10)];
    await waitFor('both marked', () => markedPids(token).length === 2);
    assert.equal(killMarked(`${token}1`, 'SIGKILL', true), 1);
    await new Promise((resolve) => one.once('exit', resolve));
    assert.ok(isAlive(ten.pid!));
    assert.deepEqual(markedPids(token), [ten.pid]);
    killMarked(token, 'SIGKILL');
    await new Promise((resolve) => ten.once('exit', resolve));
  });

  for (const signal of ['SIGHUP', 'SIGKILL'] as const) {
    test(`${signal} of ptg run with 7 hanging agents, one with a setsid grandchild: none is left within 2 s, and --resume re-runs them`, async () => {
      const stps = Object.fromEntries(['1', '2', '3', '4', '5', '6', '7'].map((id) => [id, `# STP ${id}\n${id === '3' ? 'fake: setsid\n' : ''}fake: hang\n`]));
      const w = await setUpWorkspace(stps);
      let ptgPid = 0;
      // Unsandboxed, so the grandchild's pid is the machine's: the sandboxed case is in sandbox.test.ts.
      const running = w.run(['v1', '--run-id', 'doomed', '--sandbox', 'none'], { onSpawn: (pid) => (ptgPid = pid) });
      const manifest = await waitFor('all 7 agents to start', () => {
        const file = path.join(w.ws, '.ptg/runs/v1/doomed/manifest.json');
        const m = fs.existsSync(file) && fs.readJsonSync(file, { throws: false });
        return m?.experiments?.every((e: { pid?: number }) => e.pid) && m;
      });
      const prefix: string = manifest.marker;
      const setsid = await waitFor('the setsid grandchild', () => {
        const log = path.join(w.expDir('3', 'v1', 'doomed'), 'claude.jsonl');
        return fs.existsSync(log) && Number(/setsid grandchild pid (\d+)/.exec(fs.readFileSync(log, 'utf8'))?.[1]);
      });
      assert.ok(marked(prefix).includes(setsid), 'the grandchild that left the group carries the marker');
      assert.ok(marked(prefix).length >= 8);

      process.kill(ptgPid, signal);
      const killedAt = Date.now();
      const r = await running;
      await waitFor('no marked process', () => marked(prefix).length === 0, 2000);
      assert.ok(Date.now() - killedAt < 2000);
      assert.equal(isAlive(setsid), false);
      // The process helper's job files go too: ptg removes them as it exits, the watchdog after a kill -9.
      await waitFor('the job files removed', () => !fs.existsSync(scratchPath(prefix)));

      if (signal === 'SIGHUP') {
        assert.equal(r.code, 129, r.stderr);
        assert.equal(manifestOf(w.ws, 'doomed').state, 'interrupted');
      } else {
        const status = await ptg(['status'], { cwd: w.root });
        assert.match(status.stdout, /stale: ptg \(pid \d+\) is gone/);
      }
      // Nothing hangs the second time: every experiment ends at once with a timeout.
      for (const id of Object.keys(stps)) fs.writeFileSync(path.join(w.root, 'stps', `${id}.md`), `# STP ${id}\n`);
      const resumed = await w.run(['v1', '--resume', 'doomed']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.deepEqual(manifestOf(w.ws, 'doomed').experiments.map((e: { state: string }) => e.state), Array(7).fill('succeeded'));
    });
  }
});

describe('nothing of a run is running when ptg returns', () => {
  test('right after ptg run returns 0, 1, 130 and after --resume, no process carries the run\'s marker, in 20 rounds', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n', '2': '# STP 2\n' });
    const stp2 = (text: string) => fs.writeFileSync(path.join(w.root, 'stps', '2.md'), `# STP 2\n${text}`);
    // Agent 1 leaves a child and a process in a session of its own for ptg to end, every time.
    fs.writeFileSync(path.join(w.root, 'stps', '1.md'), `# STP 1\nfake: grandchild\nfake: setsid\n${write('tests/test_a.py', 'x = 1\n')}`);
    const seen: string[] = [];
    for (let round = 0; round < 20; round++) {
      const kind = (['ok', 'failed', 'interrupted', 'resumed'] as const)[round % 4];
      const id = `r${round}`;
      let r: Awaited<ReturnType<typeof ptg>>;
      if (kind === 'ok' || kind === 'failed') {
        stp2(kind === 'failed' ? 'fake: exit 3\n' : '');
        r = await w.run(['v1', '--run-id', id]);
        assert.equal(r.code, kind === 'ok' ? 0 : 1, r.stderr);
      } else if (kind === 'interrupted') {
        stp2('fake: hang\n');
        let pid = 0;
        const running = w.run(['v1', '--run-id', id], { onSpawn: (p) => (pid = p) });
        await waitFor('both agents to start', () => {
          const m = fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1', id, 'manifest.json'), { throws: false });
          return m?.experiments?.every((e: { pid?: number; state: string }) => e.pid || e.state !== 'pending' && e.state !== 'running');
        });
        process.kill(pid, 'SIGINT');
        r = await running;
        assert.equal(r.code, 130, r.stderr);
      } else {
        stp2('');
        r = await w.run(['v1', '--resume', `r${round - 1}`]);
        assert.equal(r.code, 0, r.stderr);
      }
      const left = ofRun(manifestOf(w.ws, kind === 'resumed' ? `r${round - 1}` : id).marker);
      if (left.length) seen.push(`round ${round} (${kind}): ${left.join(', ')}`);
    }
    assert.deepEqual(seen, []);
  });

  test('a run refused while bubblewrap is probed (an invalid run id) exits 2 with one line and leaves no process and no job files, in 5 rounds', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n' });
    for (let round = 0; round < 5; round++) {
      let pid = 0;
      const r = await w.run(['v1', '--run-id', '../x', '--sandbox', 'bwrap'], { onSpawn: (p) => (pid = p) });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.deepEqual(marked(`${pid}-`), [], 'nothing carries its marker');
      assert.deepEqual(readdirSync(os.tmpdir()).filter((n) => n.startsWith(`ptg-jobs-${pid}-`)), [], 'its job files are gone');
    }
  });
});

describe('an agent sees only its own version and its own experiment', () => {
  test('other versions are out of the slot while it runs and back afterwards; no earlier record is under the slot', async () => {
    const record = tmpDir('ptg-record-');
    const w = await setUpWorkspace({ '1': `# STP 1\nfake: list-tree\n${write('tests/test_first.py', 'x = 1\n')}` }, undefined, { '.gitignore': 'build/\n' });
    fs.outputFileSync(path.join(w.root, 'v2.1', 'orchestrator.md'), 'Orchestrate $ARGUMENTS\n');
    fs.outputFileSync(path.join(w.root, 'v2.1', 'skills', 'heal', 'SKILL.md'), '# heal\n');
    assert.equal((await ptg(['setup', '--repo', w.upstream, '--no-python'], { cwd: w.root })).code, 0);
    const claude = path.join(w.slot('1'), '.claude');
    const installed = () => fs.readdirSync(path.join(claude, 'commands')).sort();
    assert.deepEqual(installed(), ['v1-unified-prompt.md', 'v2-orchestrator.md', 'v2.1-orchestrator.md']);
    fs.outputFileSync(path.join(claude, 'commands', 'mine.md'), 'a command the user put there\n');

    const first = await w.run(['v1'], { env: { FAKE_AGENT_RECORD: record } });
    assert.equal(first.code, 0, first.stderr);
    const second = await w.run(['v2.1'], { env: { FAKE_AGENT_RECORD: record } });
    assert.equal(second.code, 0, second.stderr);

    const tree: string[] = fs.readJsonSync(path.join(record, '1-upstream.tree.json'));
    const claudeFiles = tree.filter((p) => p.startsWith('.claude/') && !p.endsWith('/')).sort();
    assert.deepEqual(claudeFiles, ['.claude/commands/mine.md', '.claude/commands/v2.1-orchestrator.md', '.claude/skills/v2.1-heal/SKILL.md']);
    assert.deepEqual(tree.filter((p) => /experiment|claude\.(jsonl|log)|status\.(json|txt)|changes\.patch|prompt\.md|test_first/.test(p)), [], 'nothing of the v1 experiment is in the slot');

    const status = fs.readJsonSync(path.join(w.expDir('1', 'v2.1', runIdOf(second.stdout)), 'status.json'));
    assert.deepEqual(status.loaded.skills, ['v2.1-heal']);
    assert.ok(status.loaded.commands.includes('v2.1-orchestrator'));
    assert.ok(!status.loaded.commands.some((c: string) => /^v1-|^v2-/.test(c)));
    assert.deepEqual(installed(), ['mine.md', 'v1-unified-prompt.md', 'v2-orchestrator.md', 'v2.1-orchestrator.md'], 'every version is back');
    assert.ok(fs.existsSync(path.join(claude, 'skills', 'v2-generate-pytest', 'templates', 'test.py.tmpl')));
  });

  test('files a killed ptg left parked are put back by the next run and by setup', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n' });
    const installed = path.join(w.slot('1'), '.claude/commands/v2-orchestrator.md');
    const parked = path.join(w.ws, '.ptg/parked/1-upstream/.claude/commands/v2-orchestrator.md');
    const park = () => fs.moveSync(installed, parked);
    park();
    assert.equal((await w.run(['v1'])).code, 0);
    assert.ok(fs.existsSync(installed) && !fs.existsSync(path.dirname(path.dirname(path.dirname(parked)))), 'the run put it back');
    park();
    assert.equal((await ptg(['setup', '--repo', w.upstream, '--no-python'], { cwd: w.root })).code, 0);
    assert.ok(fs.existsSync(installed), 'setup put it back');
  });

  test('an orchestrated version whose command the agent did not load is an agent error', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n' });
    const r = await w.run(['v2'], { env: { FAKE_AGENT_HIDE_COMMANDS: '1' } });
    assert.equal(r.code, 1);
    const status = fs.readJsonSync(path.join(w.expDir('1', 'v2', runIdOf(r.stdout)), 'status.json'));
    assert.equal(status.state, 'agent_error');
    assert.match(status.agentError, /did not load \/v2-orchestrator/);
  });

  test('what an agent leaves in ignored paths is listed in its status.json and gone before the next experiment', async () => {
    const record = tmpDir('ptg-record-');
    const w = await setUpWorkspace({ '1': `# STP 1\n${write('build/out.log', 'agent output\n')}${write('build/deep/cache.bin', 'x')}` }, undefined, { '.gitignore': 'build/\n' });
    const first = await w.run(['v1']);
    assert.equal(first.code, 0, first.stderr);
    const status = fs.readJsonSync(path.join(w.expDir('1', 'v1', runIdOf(first.stdout)), 'status.json'));
    assert.deepEqual(status.ignoredFiles, ['build/']);
    assert.deepEqual(status.changedFiles, [], 'git sees none of it');

    fs.writeFileSync(path.join(w.root, 'stps', '1.md'), '# STP 1\nfake: list-tree\n');
    const second = await w.run(['v1'], { env: { FAKE_AGENT_RECORD: record } });
    assert.equal(second.code, 0, second.stderr);
    const tree: string[] = fs.readJsonSync(path.join(record, '1-upstream.tree.json'));
    assert.ok(!tree.some((p) => p.startsWith('build')), `the next agent found: ${tree.filter((p) => p.startsWith('build'))}`);
    assert.deepEqual(fs.readJsonSync(path.join(w.expDir('1', 'v1', runIdOf(second.stdout)), 'status.json')).removedBeforeStart, ['build/']);
  });
});

describe('agents that hang or go silent', () => {
  test('an agent that printed its result and hangs is ended after 30 s, and its result stands', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: linger\n' });
    const r = await w.run(['v1']);
    assert.equal(r.code, 0, r.stderr);
    const status = fs.readJsonSync(path.join(w.expDir('1', 'v1', runIdOf(r.stdout)), 'status.json'));
    assert.equal(status.state, 'succeeded');
    assert.equal(status.stopReason, 'after_result');
    assert.equal(status.costUsd, 0.0125);
    assert.ok(status.durationMs >= 30_000);
  });

  test('--idle-timeout ends an agent that prints nothing', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: hang\n' });
    const r = await w.run(['v1', '--idle-timeout', '2s']);
    assert.equal(r.code, 1);
    const dir = w.expDir('1', 'v1', runIdOf(r.stdout));
    const status = fs.readJsonSync(path.join(dir, 'status.json'));
    assert.equal(status.state, 'timed_out');
    assert.equal(status.stopReason, 'idle');
    assert.equal(fs.readFileSync(path.join(dir, 'status.txt'), 'utf8'), '[STP 1] ✗ Timed out: no output for 2s\n');
  });
});

describe('a failed write is a failed experiment, not a crash', () => {
  test('claude.log on a full disk (/dev/full): that experiment fails with one line, its agent ends, the others go on', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: hang\n', '2': '# STP 2\n' });
    const dir = w.expDir('1', 'v1', 'full');
    fs.ensureDirSync(dir);
    fs.symlinkSync('/dev/full', path.join(dir, 'claude.log'));
    const r = await ptg(['run', 'v1', '--run-id', 'full', '--agent', FAKE_AGENT], { cwd: w.root, env: { IS_SANDBOX: '1' } });
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /bug in ptg|\n\s+at /);
    const status = fs.readJsonSync(path.join(dir, 'status.json'));
    assert.equal(status.state, 'failed');
    assert.match(status.agentError, /^ptg could not run this experiment: no space left on device/);
    assert.equal(isAlive(status.pid), false);
    assert.equal(fs.readJsonSync(path.join(w.expDir('2', 'v1', 'full'), 'status.json')).state, 'succeeded');
  });
});
