// Issue 11: a version that learns as it goes, one experiment after another, carrying GRAVEYARD.md.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import fs from 'fs-extra';
import { ptg, setUpWorkspace, waitFor } from './support/fixtures.js';

const write = (file: string, text: string) => `fake: write ${file} ${JSON.stringify(text)}\n`;
const append = (file: string, text: string) => `fake: append ${file} ${JSON.stringify(text)}\n`;
const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

describe('ptg run --sequential --carry', () => {
  test('a chain of 4: experiment k receives what k-1 left; Ctrl-C in 3 and --resume continue from 2', async () => {
    const stp = (k: number, extra = '') => `# STP ${k}\n${write(`tests/test_${k}.py`, `def test_${k}() -> None:\n    assert True\n`)}${append('GRAVEYARD.md', `lesson ${k}\n`)}${extra}`;
    const w = await setUpWorkspace({ '1': stp(1), '2': stp(2), '3': stp(3, 'fake: hang\n'), '4': stp(4) });
    let ptgPid = 0;
    const running = w.run(['v1', '--sequential', '--carry', 'GRAVEYARD.md', '--run-id', 'chain'], { onSpawn: (pid) => (ptgPid = pid) });
    const three = w.expDir('3', 'v1', 'chain');
    await waitFor('experiment 3 to append its lesson', () => lines(path.join(w.slot('3'), 'GRAVEYARD.md')).length === 3);
    const status = await ptg(['status'], { cwd: w.root });
    assert.match(status.stdout, /chain: STP 3 of 4/);
    assert.match(status.stdout, /GRAVEYARD\.md lines after each step: 1: 1, 2: 2/);
    process.kill(ptgPid, 'SIGINT');
    assert.equal((await running).code, 130);
    assert.equal(fs.readJsonSync(path.join(three, 'status.json')).state, 'interrupted');
    assert.ok(!fs.existsSync(w.expDir('4', 'v1', 'chain')), 'STP 4 never started');

    fs.writeFileSync(path.join(w.root, 'stps', '3.md'), stp(3));
    const resumed = await w.run(['v1', '--resume', 'chain']);
    assert.equal(resumed.code, 0, resumed.stderr);

    for (const k of [1, 2, 3, 4]) {
      const dir = w.expDir(String(k), 'v1', 'chain');
      assert.deepEqual(lines(path.join(dir, 'carry/in/GRAVEYARD.md')), Array.from({ length: k - 1 }, (_, i) => `lesson ${i + 1}`), `experiment ${k} received`);
      assert.equal(lines(path.join(dir, 'carry/out/GRAVEYARD.md')).length, k);
      const s = fs.readJsonSync(path.join(dir, 'status.json'));
      assert.deepEqual(s.changedFiles, [{ status: 'A', path: `tests/test_${k}.py` }], 'the carried file is not a change');
      assert.doesNotMatch(fs.readFileSync(path.join(dir, 'changes.patch'), 'utf8'), /GRAVEYARD/);
      assert.deepEqual(s.testFiles, [`tests/test_${k}.py`]);
      assert.deepEqual(s.carry.left, { 'GRAVEYARD.md': k });
      const others = fs.readdirSync(path.join(w.slot(String(k)), 'tests')).filter((n) => /^test_\d\.py$/.test(n));
      assert.deepEqual(others, [`test_${k}.py`], 'no slot holds another STP\'s test');
      assert.ok(!fs.existsSync(path.join(w.slot(String(k)), 'GRAVEYARD.md')), 'the slot is back to its base for the carried file');
    }
    assert.equal(fs.readJsonSync(path.join(three, 'attempt-1', 'status.json')).carry.received['GRAVEYARD.md'], 2);
    const run = path.join(w.ws, '.ptg/runs/v1/chain');
    assert.deepEqual(lines(path.join(run, 'carry/GRAVEYARD.md')), ['lesson 1', 'lesson 2', 'lesson 3', 'lesson 4']);

    const collect = await ptg(['collect', 'v1', 'chain'], { cwd: w.root });
    assert.equal(collect.code, 0, collect.stderr);
    assert.match(collect.stdout, /results_v1_chain\/carry\/GRAVEYARD\.md \(4 lines, left by STP 4\)/);
    const results = path.join(w.ws, 'results_v1_chain');
    assert.equal(lines(path.join(results, 'carry/GRAVEYARD.md')).length, 4);
    const md = fs.readFileSync(path.join(results, 'summary.md'), 'utf8');
    assert.match(md, /## Carried files/);
    assert.match(md, /^\| 1 \| succeeded \| — \| 1 line \| +\|$/m);
    assert.match(md, /^\| 4 \| succeeded \| 3 lines \| 4 lines \| +\|$/m);
    const manifest = fs.readJsonSync(path.join(run, 'manifest.json'));
    assert.equal(manifest.concurrency, 1);
  });

  test('--model a --model b -j 2: the two chains go side by side, each one at a time in STP order, never two in a slot', async () => {
    const stp = (k: number) => `# STP ${k}\nfake: sleep 1000\n${append('GRAVEYARD.md', `lesson ${k}\n`)}`;
    const w = await setUpWorkspace({ '1': stp(1), '2': stp(2), '3': stp(3), '4': stp(4) });
    const r = await w.run(['v1', '--sequential', '--carry', 'GRAVEYARD.md', '--model', 'a', '--model', 'b', '-j', '2', '--run-id', 'two']);
    assert.equal(r.code, 0, r.stderr);
    const span = (model: string, k: number) => {
      const s = fs.readJsonSync(path.join(w.ws, 'experiments', `v1_experiment_two_${model}`, `${k}-upstream`, 'status.json'));
      return { model, k, from: Date.parse(s.startedAt), to: Date.parse(s.finishedAt), received: s.carry.received['GRAVEYARD.md'] ?? 0 };
    };
    const chains = ['a', 'b'].map((m) => [1, 2, 3, 4].map((k) => span(m, k)));
    for (const chain of chains) {
      for (let i = 1; i < 4; i++) assert.ok(chain[i]!.from >= chain[i - 1]!.to, `${chain[i]!.model}: STP ${i + 1} starts after STP ${i} ended`);
      assert.deepEqual(chain.map((x) => x.received), [0, 1, 2, 3], 'each step received its own chain\'s lessons');
    }
    const overlap = (x: { from: number; to: number }, y: { from: number; to: number }) => x.from < y.to && y.from < x.to;
    for (let k = 0; k < 4; k++) assert.ok(!overlap(chains[0]![k]!, chains[1]![k]!), `STP ${k + 1}: one chain at a time in its slot`);
    assert.ok(chains[0]!.some((x) => chains[1]!.some((y) => overlap(x, y))), 'the chains ran side by side');
    assert.equal(fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1/two/manifest.json')).concurrency, 2);
  });

  test('a failed step passes on what it left; --carry-from seeds the first; --carry without --sequential is refused', async () => {
    const w = await setUpWorkspace({ '1': `# STP 1\n${append('GRAVEYARD.md', 'one\n')}fake: exit 3\n`, '2': `# STP 2\n${append('GRAVEYARD.md', 'two\n')}` });
    const seed = path.join(w.dir, 'seed.md');
    fs.writeFileSync(seed, 'seeded\n');
    const r = await w.run(['v1', '--sequential', '--carry', 'GRAVEYARD.md', '--carry-from', seed, '--run-id', 'seeded']);
    assert.equal(r.code, 1);
    assert.deepEqual(lines(path.join(w.expDir('2', 'v1', 'seeded'), 'carry/in/GRAVEYARD.md')), ['seeded', 'one']);
    assert.deepEqual(lines(path.join(w.ws, '.ptg/runs/v1/seeded/carry/GRAVEYARD.md')), ['seeded', 'one', 'two']);
    assert.equal((await ptg(['collect', 'v1', 'seeded'], { cwd: w.root })).code, 0);
    assert.match(fs.readFileSync(path.join(w.ws, 'results_v1_seeded', 'summary.md'), 'utf8'), /^\| 1 \| failed \(exit 3\) \| 1 line \| 2 lines \| passed on as the failed \(exit 3\) agent left it \|$/m);

    const refused = await w.run(['v1', '--carry', 'GRAVEYARD.md']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /need --sequential/);
    const outside = await w.run(['v1', '--sequential', '--carry', '../x.md']);
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /give a path inside the repository/);
  });
});

describe('ptg run --model a,b: a matrix of models', () => {
  test('2 models × 3 STPs: 6 experiments, each agent got its --model; rows per STP and model; compare labels each', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n', '2': '# STP 2\n', '3': '# STP 3\nfake: exit 2\n' });
    const r = await w.run(['v1', '--model', 'opus,sonnet', '--run-id', 'matrix']);
    assert.equal(r.code, 1, r.stderr);
    const manifest = fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1/matrix/manifest.json'));
    assert.deepEqual(manifest.models, ['opus', 'sonnet']);
    assert.deepEqual(manifest.experiments.map((e: { stp: string; model: string }) => `${e.stp} ${e.model}`), ['1 opus', '1 sonnet', '2 opus', '2 sonnet', '3 opus', '3 sonnet']);
    for (const stp of ['1', '2', '3']) {
      for (const model of ['opus', 'sonnet']) {
        const s = fs.readJsonSync(path.join(w.ws, 'experiments', `v1_experiment_matrix_${model}`, `${stp}-upstream`, 'status.json'));
        assert.equal(s.requestedModel, model);
        assert.equal(s.model, model, 'the agent received --model and ran on it');
      }
    }
    assert.equal((await ptg(['collect', 'v1', 'matrix'], { cwd: w.root })).code, 0);
    const summary = fs.readJsonSync(path.join(w.ws, 'results_v1_matrix', 'summary.json'));
    assert.equal(summary.experiments.length, 6);
    assert.match(fs.readFileSync(path.join(w.ws, 'results_v1_matrix', 'summary.md'), 'utf8'), /^\| 2 sonnet \| succeeded \|/m);

    const compare = await ptg(['compare', 'v1@matrix', 'v1:opus@matrix'], { cwd: w.root });
    assert.equal(compare.code, 0, compare.stderr);
    assert.match(compare.stdout, /^\| STP \| v1:opus@matrix status \| .* \| v1:sonnet@matrix status \| .* \| v1:opus@matrix status \|/m);
    const missing = await ptg(['compare', 'v1:haiku@matrix'], { cwd: w.root });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /has no model haiku: it ran opus, sonnet/);
    const twice = await w.run(['v1', '--model', 'opus', '--agent-arg=--model', '--agent-arg=opus']);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /The model is given twice/);
  });
});
