import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import fs from 'fs-extra';
import { clean } from '../src/core/setup/clean.js';
import { loadRoot } from '../src/core/root/root.js';
import { PROJECT, git, isAlive, makeRoot, ptg, pushCommit, setUpWorkspace, tmpDir, waitFor } from './support/fixtures.js';

const write = (file: string, text: string) => `fake: write ${file} ${JSON.stringify(text)}\n`;

/** The pid of a process that has ended: what a lock left by a killed ptg names. */
function deadPid(): number {
  return spawnSync('true').pid;
}

/** Every file under `dir` with its content, to show that nothing in it changed. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const file = path.join(dir, name);
    if (fs.statSync(file).isFile()) files[name] = fs.readFileSync(file, 'utf8');
  }
  return files;
}

/** Starts `ptg run v1` with an agent that hangs; resolves once the agent runs, with its run id and pids. */
async function hangingRun(w: Awaited<ReturnType<typeof setUpWorkspace>>) {
  let ptgPid = 0;
  const running = w.run(['v1'], { onSpawn: (pid) => (ptgPid = pid) });
  const runs = path.join(w.ws, '.ptg', 'runs', 'v1');
  const { runId, agent } = await waitFor('the agent to start', () => {
    for (const runId of fs.existsSync(runs) ? fs.readdirSync(runs) : []) {
      const manifest = fs.readJsonSync(path.join(runs, runId, 'manifest.json'), { throws: false });
      const agent = manifest?.experiments.find((e: { state: string; pid?: number }) => e.state === 'running' && e.pid)?.pid as number | undefined;
      if (agent) return { runId, agent };
    }
    return undefined;
  });
  return { running, runId, agent, ptgPid };
}

describe('slot locks', () => {
  test('setup during a run refuses, naming the run, and leaves the agent and its slot as they are', async () => {
    const w = await setUpWorkspace({ '1': `# STP 1\n${write('tests/test_wip.py', 'x = 1\n')}fake: hang\n` });
    const slot = w.slot('1');
    const base = git(slot, 'rev-parse', 'HEAD');
    // A setup that went ahead would move the slot to this commit.
    const next = pushCommit(w.upstream, 'tests/new_upstream.py', 'y = 2\n');

    const { running, runId, agent, ptgPid } = await hangingRun(w);
    await waitFor('the agent\'s work', () => fs.existsSync(path.join(slot, 'tests/test_wip.py')));
    // As the run left them: v1 alone in .claude/ (the other versions wait outside the slot).
    const claude = snapshot(path.join(slot, '.claude'));
    const slotState = fs.readFileSync(path.join(w.ws, '.ptg/slots/1-upstream.json'), 'utf8');
    const r = await ptg(['setup', '--repo', w.upstream, '--no-python'], { cwd: w.root });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.equal(r.stderr.trim(), `ptg: Slot 1-upstream is in use by run v1 ${runId} (pid ${ptgPid}): wait for it to end, or choose other STPs with --stp.`);

    assert.ok(isAlive(agent), 'the agent still runs');
    assert.equal(fs.readFileSync(path.join(slot, 'tests/test_wip.py'), 'utf8'), 'x = 1\n', 'the agent\'s work is intact');
    assert.equal(git(slot, 'rev-parse', 'HEAD'), base);
    assert.ok(!fs.existsSync(path.join(slot, 'tests/new_upstream.py')));
    assert.deepEqual(snapshot(path.join(slot, '.claude')), claude);
    assert.equal(fs.readFileSync(path.join(w.ws, '.ptg/slots/1-upstream.json'), 'utf8'), slotState);

    process.kill(ptgPid, 'SIGINT');
    assert.equal((await running).code, 130);
    const after = await ptg(['setup', '--repo', w.upstream, '--no-python'], { cwd: w.root });
    assert.equal(after.code, 0, after.stdout + after.stderr);
    assert.equal(git(slot, 'rev-parse', 'HEAD'), next, 'the run released the slot');
  });

  test('clean during a run refuses, naming the run, and removes nothing', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: hang\n' });
    const { running, runId, ptgPid } = await hangingRun(w);
    const r = await ptg(['clean', '--experiments'], { cwd: w.root });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.equal(r.stderr.trim(), `ptg: Slot 1-upstream is in use by run v1 ${runId} (pid ${ptgPid}): wait for it to end, then clean again.`);
    assert.ok(fs.existsSync(w.expDir('1', 'v1', runId)));
    assert.ok(fs.existsSync(path.join(w.ws, '.ptg/runs/v1', runId, 'manifest.json')));

    process.kill(ptgPid, 'SIGINT');
    assert.equal((await running).code, 130);
    assert.equal((await ptg(['clean', '--experiments'], { cwd: w.root })).code, 0);
    assert.ok(!fs.existsSync(w.expDir('1', 'v1', runId)));
  });

  test('a refusal names setup or clean when one of them holds the slot; a lock no ptg wrote whole is broken', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n' });
    const locks = path.join(w.ws, '.ptg', 'locks');
    // This test's own process stands in for a live `ptg setup`.
    fs.writeJsonSync(path.join(locks, '1-upstream.lock'), { pid: process.pid, command: 'setup', nonce: 'test' });
    const r = await w.run(['v1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`Slot 1-upstream is in use by ptg setup \\(pid ${process.pid}\\)`));

    fs.writeFileSync(path.join(locks, '1-upstream.lock'), '{"pid":');
    const again = await w.run(['v1']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(fs.readdirSync(locks), [], 'no lock, .break or temporary file is left');
  });

  test('two runs started at once on one slot with a stale lock: one breaks it, never both run', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n', '2': '# STP 2\n' });
    const marks = tmpDir('ptg-excl-');
    // An agent that proves it has the slot to itself: a second one in the slot at the same time
    // finds its marker there and says so outside the slot.
    const agent = path.join(marks, 'exclusive-agent.mjs');
    fs.writeFileSync(
      agent,
      `#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
if (process.argv.includes('--version')) { console.log('0.0.1 (exclusive agent)'); process.exit(0); }
fs.readFileSync(0);
const marker = path.join(process.cwd(), '.excl');
const marks = process.env.EXCL_MARKS;
let fd;
try { fd = fs.openSync(marker, 'wx'); } catch { fs.writeFileSync(path.join(marks, 'collision-' + process.pid), process.cwd()); }
fs.appendFileSync(path.join(marks, 'ran'), process.pid + '\\n');
await new Promise((r) => setTimeout(r, 200));
if (fd !== undefined) { fs.closeSync(fd); fs.unlinkSync(marker); }
console.log(JSON.stringify({ type: 'result', subtype: 'success', is_error: false, num_turns: 1, result: 'done', session_id: 'excl', total_cost_usd: 0 }));
`,
      { mode: 0o755 },
    );
    const locks = path.join(w.ws, '.ptg', 'locks');
    const run = (stp: string) => ptg(['run', 'v1', '--stp', stp, '--agent', agent, '--sandbox-rw', marks], { cwd: w.root, env: { IS_SANDBOX: '1', EXCL_MARKS: marks } });
    // Two slots race side by side, 25 rounds each: on 2 cores, one pair alone leaves a core idle.
    const lane = async (stp: string) => {
      let ran = 0;
      for (let round = 1; round <= 25; round++) {
        fs.writeJsonSync(path.join(locks, `${stp}-upstream.lock`), { pid: deadPid(), command: 'run', version: 'v1', runId: 'stale', nonce: 'stale' });
        const results = await Promise.all([run(stp), run(stp)]);
        for (const r of results) {
          const refused = r.code === 2 && new RegExp(`Slot ${stp}-upstream is in use by run v1 `).test(r.stderr);
          assert.ok(r.code === 0 || refused, `STP ${stp} round ${round}: ${r.code} ${r.stderr}`);
        }
        assert.ok(results.some((r) => r.code === 0), `STP ${stp} round ${round}: neither run ran`);
        ran += results.filter((r) => r.code === 0).length;
      }
      return ran;
    };
    const ran = (await Promise.all([lane('1'), lane('2')])).reduce((a, b) => a + b);
    assert.deepEqual(fs.readdirSync(marks).filter((n) => n.startsWith('collision-')), [], 'two agents were in one slot at once');
    assert.equal(fs.readFileSync(path.join(marks, 'ran'), 'utf8').trim().split('\n').length, ran);
    assert.deepEqual(fs.readdirSync(locks), []);
  });

  test('racers let go at the same instant on a stale lock: one holds it at a time', async () => {
    // Closer than two ptg processes can start: racers that have loaded the lock module take the
    // lock the moment a line arrives on their standard input, 50 rounds in the same processes.
    const ws = tmpDir('ptg-race-');
    const racer = `
      import fs from 'node:fs';
      import readline from 'node:readline';
      import { lockSlots } from ${JSON.stringify(path.join(PROJECT, 'dist', 'core', 'workspace', 'lock.js'))};
      const ws = process.argv[1];
      console.log('ready');
      for await (const _ of readline.createInterface({ input: process.stdin })) {
        let release;
        try {
          release = await lockSlots(ws, ['1-upstream'], { version: 'v1', runId: String(process.pid) });
        } catch (error) {
          console.log(error.exitCode === 2 ? 'refused' : 'error ' + error.message);
          continue;
        }
        let fd;
        try { fd = fs.openSync(ws + '/excl', 'wx'); } catch { console.log('collision'); continue; }
        await new Promise((r) => setTimeout(r, 30));
        fs.closeSync(fd);
        fs.unlinkSync(ws + '/excl');
        await release();
        console.log('took');
      }`;
    const racers = Array.from({ length: 4 }, () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', racer, ws], { stdio: ['pipe', 'pipe', 'inherit'] });
      const lines: string[] = [];
      let rest = '';
      child.stdout.on('data', (d) => {
        const parts = (rest + d).split('\n');
        rest = parts.pop()!;
        lines.push(...parts);
      });
      return { child, lines };
    });
    try {
      await waitFor('every racer to be ready', () => racers.every((r) => r.lines.length === 1));
      const lock = path.join(ws, '.ptg', 'locks', '1-upstream.lock');
      for (let round = 1; round <= 50; round++) {
        fs.outputJsonSync(lock, { pid: deadPid(), command: 'run', version: 'v1', runId: 'stale', nonce: 'stale' });
        for (const r of racers) r.child.stdin.write('go\n');
        await waitFor(`round ${round}`, () => racers.every((r) => r.lines.length === round + 1));
        const said = racers.map((r) => r.lines[round]!);
        assert.ok(said.every((s) => s === 'took' || s === 'refused'), `round ${round}: ${said.join(', ')}`);
        assert.ok(said.includes('took'), `round ${round}: no racer took the lock`);
      }
      assert.deepEqual(fs.readdirSync(path.dirname(lock)), []);
    } finally {
      for (const r of racers) r.child.kill();
    }
  });
});

describe('clean --results --version', () => {
  test('removes that version\'s results only: by summary.json, else by the longest known version in the name', async () => {
    const root = makeRoot(tmpDir());
    fs.outputFileSync(path.join(root, 'v2_1', 'prompt.md'), 'another version\n');
    const versions = (await loadRoot(root)).versions.map((v) => v.name);
    const ws = path.join(root, 'parallel');
    // A run of v2_x, known only from its manifest.
    fs.outputJsonSync(path.join(ws, '.ptg/runs/v2_x/r1/manifest.json'), { format: 1, version: 'v2_x', runId: 'r1', pid: deadPid(), state: 'finished', startedAt: '2026-01-01T00:00:00Z', experiments: [] });
    const results = (name: string, version?: string) => {
      fs.ensureDirSync(path.join(ws, name));
      if (version) fs.writeJsonSync(path.join(ws, name, 'summary.json'), { format: 1, version });
    };
    results('results_v2_20260101_120000', 'v2');
    results('results_v2_20260102_120000');
    results('results_v2_renamed_by_hand', 'v20'); // the summary says whose it is
    results('results_v2.1_20260101_120000', 'v2.1');
    results('results_v2.1_20260102_120000');
    results('results_v20_20260101_120000', 'v20');
    results('results_v20_20260102_120000');
    results('results_v2_1_20260101_120000'); // v2_1's: the root has a v2_1
    results('results_v2_x_r1'); // v2_x's: a run says so
    fs.outputFileSync(path.join(ws, 'comparison_v2_v20.md'), '| STP |\n');

    const removed = await clean({ workspace: ws, results: true, version: 'v2', versions });
    assert.deepEqual(removed.map((p) => path.basename(p)).sort(), ['results_v2_20260101_120000', 'results_v2_20260102_120000']);
    assert.deepEqual(fs.readdirSync(ws).filter((n) => n !== '.ptg').sort(), [
      'comparison_v2_v20.md',
      'results_v2.1_20260101_120000',
      'results_v2.1_20260102_120000',
      'results_v20_20260101_120000',
      'results_v20_20260102_120000',
      'results_v2_1_20260101_120000',
      'results_v2_renamed_by_hand',
      'results_v2_x_r1',
    ]);

    // The binary: a --version after the command is clean's, not ptg's own.
    results('results_v2_20260103_120000', 'v2');
    const cli = await ptg(['clean', '--results', '--version', 'v2'], { cwd: root });
    assert.equal(cli.code, 0, cli.stderr);
    assert.ok(!fs.existsSync(path.join(ws, 'results_v2_20260103_120000')));
    assert.ok(fs.existsSync(path.join(ws, 'results_v2.1_20260101_120000')));

    await clean({ workspace: ws, results: true, versions });
    assert.deepEqual(fs.readdirSync(ws), ['.ptg'], 'without --version: every results folder and comparison');
  });
});
