import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import fs from 'fs-extra';
import YAML from 'yaml';
import { parseShard, selectStps } from '../src/core/root/root.js';
import { makeRoot, makeUpstream, PROJECT, ptg, FAKE_AGENT, runIdOf, setUpWorkspace, tmpDir } from './support/fixtures.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => ({ id: String(i + 1), file: `${i + 1}.md` }));

describe('shards', () => {
  test('every STP is in exactly one shard, shard sizes differ by one at most', () => {
    for (const stps of [1, 2, 7, 10, 100]) {
      for (const count of [1, 2, 3, 4, 8, 16]) {
        const shares = Array.from({ length: count }, (_, i) => selectStps(ids(stps), undefined, { index: i + 1, count }).map((s) => s.id));
        const all = shares.flat().sort((a, b) => Number(a) - Number(b));
        assert.deepEqual(all, ids(stps).map((s) => s.id), `${stps} STPs in ${count} shards`);
        const sizes = shares.map((s) => s.length);
        assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
      }
    }
    assert.deepEqual(selectStps(ids(7), ['2', '3', '5'], { index: 2, count: 2 }).map((s) => s.id), ['3']);
  });

  test('bad shards are usage errors', async () => {
    for (const bad of ['0/3', '4/3', '3', 'a/b', '1/0']) assert.throws(() => parseShard(bad), /Invalid shard/);
    const w = await setUpWorkspace({ '1': '', '2': '' });
    const r = await w.run(['v1', '--shard', '5/4']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Invalid shard "5\/4"/);
    const env = await w.run(['v1', '--shard-from-env', 'JOB_COMPLETION_INDEX', '--shard', '4'], { env: { JOB_COMPLETION_INDEX: '' } });
    assert.equal(env.code, 2);
  });

  test('a shard with no STPs has nothing to do and says so', async () => {
    const w = await setUpWorkspace({ '1': '', '2': '' });
    const r = await w.run(['v1', '--shard-from-env', 'JOB_COMPLETION_INDEX', '--shard', '3'], { env: { JOB_COMPLETION_INDEX: '2' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Shard 3\/3 has no STPs \(2 STPs in all\): nothing to run/);
  });
});

describe('many machines: run shards, pack, merge', () => {
  const stps = {
    '1': '# STP 1\nfake: write tests/test_1.py "def test_1() -> None:\\n    assert True\\n"\nfake: cost 0.1\n',
    '2': '# STP 2\nfake: exit 2\nfake: cost 0.2\n',
    '3': '# STP 3\nfake: write tests/test_3.py "x: int = \\"no\\"\\n"\nfake: cost 0.3\n',
    '4': '# STP 4\nfake: cost 0.4\n',
    '5': '# STP 5\nfake: error 500 internal\n',
  };
  const TIMING = new Set(['date', 'durationMs', 'medianDurationMs']);
  const withoutTiming = (value: unknown): unknown =>
    JSON.parse(JSON.stringify(value, (key, v) => (TIMING.has(key) ? undefined : v)));

  test('the merged report equals the single-machine report of the same experiments', async () => {
    const dir = tmpDir();
    const upstream = makeUpstream(dir);
    const root = makeRoot(dir, { stps });
    const ws = path.join(root, 'parallel');
    const packs = path.join(dir, 'packs');
    const env = { IS_SANDBOX: '1', PTG_AGENT: FAKE_AGENT };
    // Three machines, one after another at the same path, as CI jobs with the same checkout path are.
    for (const i of [1, 2, 3]) {
      assert.equal((await ptg(['setup', '--repo', upstream, '--no-python', '--shard', `${i}/3`], { cwd: root })).code, 0);
      const run = await ptg(['run', 'v1', '--shard', `${i}/3`, '--run-id', 'ci-42'], { cwd: root, env });
      assert.ok(run.code === 0 || run.code === 1, run.stderr);
      const pack = await ptg(['pack', 'v1', 'ci-42', '--out', packs], { cwd: root });
      assert.equal(pack.code, 0, pack.stderr);
      fs.removeSync(ws);
    }
    assert.deepEqual(fs.readdirSync(packs).sort(), ['1-of-3', '2-of-3', '3-of-3'].map((s) => `ptg-pack_v1_ci-42_shard-${s}.tar.gz`));
    const merged = await ptg(['collect', 'v1', 'ci-42', '--from', ...fs.readdirSync(packs).map((p) => path.join(packs, p)), '--out', path.join(dir, 'merged')], { cwd: root });
    assert.equal(merged.code, 0, merged.stderr);

    // The same five experiments on one machine.
    assert.equal((await ptg(['setup', '--repo', upstream, '--no-python'], { cwd: root })).code, 0);
    assert.equal((await ptg(['run', 'v1', '--run-id', 'ci-42'], { cwd: root, env })).code, 1);
    assert.equal((await ptg(['collect', 'v1', 'ci-42', '--out', path.join(dir, 'single')], { cwd: root })).code, 0);

    const single = fs.readJsonSync(path.join(dir, 'single', 'results_v1_ci-42', 'summary.json'));
    const fromPacks = fs.readJsonSync(path.join(dir, 'merged', 'results_v1_ci-42', 'summary.json'));
    assert.deepEqual(fromPacks.experiments.map((e: { stp: string }) => e.stp), ['1', '2', '3', '4', '5']);
    assert.deepEqual(withoutTiming(fromPacks), withoutTiming(single));
    assert.equal(fromPacks.totals.costUsd, 1.0125);
    assert.ok(fs.existsSync(path.join(dir, 'merged', 'results_v1_ci-42', 'stp_3', 'files', 'tests', 'test_3.py')));
  });

  test('the same STP from two machines is a conflict, reported with both sources', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n', '2': '# STP 2\n' });
    assert.equal((await w.run(['v1', '--run-id', 'dup'])).code, 0);
    const copy = path.join(w.dir, 'machine-b');
    fs.copySync(w.ws, copy);
    const r = await ptg(['collect', 'v1', 'dup', '--from', w.ws, copy], { cwd: w.root });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`STP 1 of v1 dup is in both ${w.ws} and ${copy}`));
  });
});

describe('--repeat', () => {
  test('k experiments per STP, each in its own folder, aggregated in the report', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: cost 0.5\n', '2': '# STP 2\nfake: exit 1\n' });
    const r = await w.run(['v1', '--repeat', '3', '-j', '4']);
    assert.equal(r.code, 1);
    const id = runIdOf(r.stdout);
    for (const k of [1, 2, 3]) assert.ok(fs.existsSync(path.join(w.ws, 'experiments', `v1_experiment_${id}_r${k}`, '1-upstream', 'status.json')));
    assert.equal((await ptg(['collect', 'v1', id], { cwd: w.root })).code, 0);
    const summary = fs.readJsonSync(path.join(w.ws, `results_v1_${id}`, 'summary.json'));
    assert.deepEqual(summary.experiments.map((e: { stp: string; repeat: number }) => `${e.stp}r${e.repeat}`), ['1r1', '1r2', '1r3', '2r1', '2r2', '2r3']);
    assert.deepEqual(summary.repeats.map((a: { stp: string; runs: number; succeeded: number; meanCostUsd: number }) => [a.stp, a.runs, a.succeeded, a.meanCostUsd]), [
      ['1', 3, 3, 0.5],
      ['2', 3, 0, 0.0125],
    ]);
    assert.ok(fs.existsSync(path.join(w.ws, `results_v1_${id}`, 'stp_2_r3', 'status.txt')));
    assert.match(fs.readFileSync(path.join(w.ws, `results_v1_${id}`, 'summary.md'), 'utf8'), /## Repeats/);
    const compare = await ptg(['compare', `v1@${id}`], { cwd: w.root });
    assert.match(compare.stdout, /\| \*\*Success rate\*\* \| 50% \(3\/6\) \|/);
    assert.match(compare.stdout, /^\| 2 r3 \| failed \(exit 1\) \|/m, 'a row per STP and repeat');
  });
});

describe('the CI examples', () => {
  test('parse as YAML (the Slurm one is a script) and use only real ptg commands and flags', async () => {
    const files = ['examples/ci/github-actions.yml', 'examples/k8s/indexed-job.yaml'];
    const commands: string[] = [];
    for (const file of files) {
      const doc = YAML.parse(fs.readFileSync(path.join(PROJECT, file), 'utf8'));
      assert.ok(doc, file);
      const text = JSON.stringify(doc);
      commands.push(...[...text.matchAll(/(?:npx )?ptg ([a-z]+)((?: [^|\n"\\]*)?)/g)].map((m) => `${m[1]}${m[2]}`));
    }
    // The Slurm example is a script: its continued lines joined.
    const slurm = fs.readFileSync(path.join(PROJECT, 'examples/slurm/run.sh'), 'utf8').replace(/\\\n\s*/g, ' ').replaceAll('"', '');
    commands.push(...[...slurm.matchAll(/npx ptg ([a-z]+)((?: [^|\n"]*)?)/g)].map((m) => `${m[1]}${m[2]}`));
    assert.ok(commands.some((c) => c.includes('--executor slurm --shards 8')), commands.join('\n'));
    assert.ok(commands.length >= 8, commands.join('\n'));
    const help = new Map<string, string>();
    for (const command of commands) {
      const [sub, ...rest] = command.trim().split(/\s+/);
      if (!help.has(sub!)) {
        help.set(sub!, execFileSync(process.execPath, [path.join(PROJECT, 'bin/ptg.js'), sub!, '--help'], { encoding: 'utf8' }) + execFileSync(process.execPath, [path.join(PROJECT, 'bin/ptg.js'), '--help'], { encoding: 'utf8' }));
      }
      for (const flag of rest.filter((w) => w.startsWith('--'))) {
        assert.ok(help.get(sub!)!.includes(flag.split('=')[0]!), `ptg ${sub} has no ${flag} (in: ptg ${command})`);
      }
    }
    const gha = YAML.parse(fs.readFileSync(path.join(PROJECT, files[0]!), 'utf8'));
    assert.deepEqual(gha.jobs.shard.strategy.matrix.shard, [1, 2, 3, 4]);
    const job = YAML.parse(fs.readFileSync(path.join(PROJECT, files[1]!), 'utf8'));
    assert.equal(job.spec.completionMode, 'Indexed');
    assert.equal(job.spec.completions, 4);
  });

  // No GitHub runner, `act` or Kubernetes cluster here: their shell steps run with bash instead,
  // each shard in a fresh copy of the root (a machine of its own), artifacts copied between them.
  const machine = async () => {
    const dir = tmpDir();
    const upstream = makeUpstream(dir);
    const root = makeRoot(dir, { stps: { '1': '# STP 1\n', '2': '# STP 2\nfake: exit 1\n', '3': '# STP 3\n', '4': '# STP 4\n', '5': '# STP 5\n' }, config: { repo: upstream, python: false } });
    fs.copySync(path.join(root, 'v1'), path.join(root, 'v2.1'));
    const bin = path.join(dir, 'bin');
    fs.outputFileSync(path.join(bin, 'npx'), `#!/bin/bash\n[ "$1" = ptg ] || exit 127\nshift\nexec '${process.execPath}' '${path.join(PROJECT, 'bin', 'ptg.js')}' "$@"\n`, { mode: 0o755 });
    fs.outputFileSync(path.join(bin, 'npm'), '#!/bin/bash\n[ "$1" = ci ]\n', { mode: 0o755 });
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, PTG_AGENT: FAKE_AGENT, IS_SANDBOX: '1', NO_COLOR: '1', CI: 'true' };
    const copy = (name: string) => {
      fs.copySync(root, path.join(dir, name));
      return path.join(dir, name);
    };
    return { dir, env, copy };
  };
  const bash = (script: string, cwd: string, env: NodeJS.ProcessEnv) => execFileSync('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, encoding: 'utf8' });

  test("the GitHub Actions workflow's steps, run here: 4 shard jobs and the report job merge every STP", async () => {
    const m = await machine();
    const gha = YAML.parse(fs.readFileSync(path.join(PROJECT, 'examples/ci/github-actions.yml'), 'utf8'));
    const values: Record<string, string> = { 'github.run_id': '77', 'inputs.version': 'v1', 'secrets.ANTHROPIC_API_KEY': 'sk-test' };
    const expand = (text: string, more: Record<string, string> = {}) => text.replace(/\$\{\{\s*([\w.]+)\s*\}\}/g, (_, key: string) => ({ ...values, ...more })[key] ?? '');
    const envOf = (step: { env?: Record<string, string> }, more: Record<string, string>) => ({
      ...m.env,
      ...Object.fromEntries(Object.entries({ ...gha.env, ...step.env } as Record<string, string>).map(([k, v]) => [k, expand(v, more)])),
      GITHUB_STEP_SUMMARY: path.join(m.dir, 'step-summary.md'),
    });
    const artifacts = path.join(m.dir, 'artifacts');
    for (const shard of gha.jobs.shard.strategy.matrix.shard as number[]) {
      const cwd = m.copy(`shard-${shard}`);
      for (const step of gha.jobs.shard.steps.filter((x: { run?: string }) => x.run)) bash(expand(step.run, { 'matrix.shard': String(shard) }), cwd, envOf(step, { 'matrix.shard': String(shard) }));
      fs.copySync(path.join(cwd, 'packs'), artifacts);
    }
    const cwd = m.copy('report');
    fs.copySync(artifacts, path.join(cwd, 'packs'));
    for (const step of gha.jobs.report.steps.filter((x: { run?: string }) => x.run)) bash(expand(step.run), cwd, envOf(step, {}));
    const summary = fs.readJsonSync(path.join(cwd, 'results', 'results_v1_gha-77', 'summary.json'));
    assert.deepEqual(summary.experiments.map((e: { stp: string; status: string }) => `${e.stp} ${e.status}`), ['1 succeeded', '2 failed', '3 succeeded', '4 succeeded', '5 succeeded']);
    assert.match(fs.readFileSync(path.join(m.dir, 'step-summary.md'), 'utf8'), /v1/);
  });

  test("the Indexed Job's script, run here for each completion index, and the collect its comment gives", async () => {
    const m = await machine();
    const text = fs.readFileSync(path.join(PROJECT, 'examples/k8s/indexed-job.yaml'), 'utf8');
    const job = YAML.parse(text);
    const results = path.join(m.dir, 'results');
    const script = (job.spec.template.spec.containers[0].args[0] as string).replaceAll('/results', results);
    for (let index = 0; index < job.spec.completions; index++) bash(script, m.copy(`pod-${index}`), { ...m.env, JOB_COMPLETION_INDEX: String(index) });
    const collect = /^#\s+(ptg collect .*)$/m.exec(text)![1]!.replaceAll('/results', results);
    bash(`npx ${collect}`, m.copy('merge'), m.env);
    const summary = fs.readJsonSync(path.join(results, 'results_v2.1_k8s-run-1', 'summary.json'));
    assert.deepEqual(summary.experiments.map((e: { stp: string }) => e.stp), ['1', '2', '3', '4', '5']);
  });
});
