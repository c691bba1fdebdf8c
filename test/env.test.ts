// Issue 11 (its first parts): per-version settings, required environment, --env, secrets off
// disk, artifacts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import fs from 'fs-extra';
import { StreamMasker, secretsOf } from '../src/io/mask.js';
import { FAKE_AGENT, ptg, runIdOf, setUpWorkspace, tmpDir, waitFor } from './support/fixtures.js';

const SECRET = 'artifactory-token-DO-NOT-WRITE-4711';
const write = (file: string, text: string) => `fake: write ${file} ${JSON.stringify(text)}\n`;

describe('masking secrets', () => {
  test('a value split over any two chunks is still found; short values are left alone; longest first', () => {
    const secrets = secretsOf({ TOKEN: 'abcdef', LONG: 'abcdefgh', USER: 'qe' }, ['TOKEN', 'LONG', 'USER']);
    assert.deepEqual(secrets.map((s) => s.name), ['LONG', 'TOKEN']);
    const text = 'x abcdef y abcdefgh z qe';
    for (let cut = 0; cut <= text.length; cut++) {
      const masker = new StreamMasker(secrets);
      const out = masker.push(text.slice(0, cut)) + masker.push(text.slice(cut)) + masker.end();
      assert.equal(out, 'x ***TOKEN*** y ***LONG*** z qe', `cut at ${cut}`);
      assert.deepEqual(Object.fromEntries(masker.counts), { LONG: 1, TOKEN: 1 });
    }
  });
});

describe('per-version settings and the agent\'s environment', () => {
  test('a version that needs variables the environment lacks: exit 2 naming each, nothing started', async () => {
    const record = tmpDir('ptg-record-');
    const w = await setUpWorkspace({ '1': '# STP 1\n' }, { requiredEnv: ['HOME'], versions: { v1: { requiredEnv: ['KUBECONFIG', 'ARTIFACTORY_TOKEN'] } } });
    const r = await w.run(['v1'], { env: { FAKE_AGENT_RECORD: record, KUBECONFIG: '', ARTIFACTORY_TOKEN: undefined } });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim(), "ptg: v1 needs KUBECONFIG, ARTIFACTORY_TOKEN in the agent's environment (requiredEnv in ptg.config.json), and they are not set: export them, or pass --env NAME=VALUE. Nothing was started.");
    assert.deepEqual(fs.readdirSync(record), [], 'no agent started');
    assert.ok(!fs.existsSync(path.join(w.ws, '.ptg/runs')), 'no run id claimed');
    // v2 needs nothing of them.
    assert.equal((await w.run(['v2'], { env: { KUBECONFIG: '' } })).code, 0);
  });

  test('--env NAME passes ptg\'s value on, --env NAME=VALUE sets one; the manifest has the names, no file the value', async () => {
    const record = tmpDir('ptg-record-');
    const w = await setUpWorkspace({ '1': '# STP 1\n' }, { versions: { v1: { requiredEnv: ['ARTIFACTORY_TOKEN'], env: ['ARTIFACTORY_SERVER=https://artifactory.invalid'] } } });
    const env = { FAKE_AGENT_RECORD: record, FAKE_AGENT_RECORD_ENV: 'ARTIFACTORY_TOKEN,ARTIFACTORY_SERVER,KUBECONFIG,ARTIFACTORY_USER', KUBECONFIG: '/tmp/kube' };
    const r = await w.run(['v1', '--env', `ARTIFACTORY_TOKEN=${SECRET}`, '--env', 'KUBECONFIG', '--env', 'ARTIFACTORY_USER=qe'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fs.readJsonSync(path.join(record, '1-upstream.env.json')), {
      ARTIFACTORY_TOKEN: SECRET,
      ARTIFACTORY_SERVER: 'https://artifactory.invalid',
      KUBECONFIG: '/tmp/kube',
      ARTIFACTORY_USER: 'qe',
    });
    const manifest = fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1', runIdOf(r.stdout), 'manifest.json'));
    assert.deepEqual(manifest.agent.env, ['ARTIFACTORY_TOKEN', 'ARTIFACTORY_SERVER', 'KUBECONFIG', 'ARTIFACTORY_USER']);
    assert.equal((await ptg(['collect', 'v1'], { cwd: w.root })).code, 0);
    const grep = spawnSync('grep', ['-rl', '--', SECRET, w.ws], { encoding: 'utf8' });
    assert.equal(grep.status, 1, `the value is in: ${grep.stdout}`);

    const unset = await w.run(['v1', '--env', 'NOT_SET_ANYWHERE'], { env: { ARTIFACTORY_TOKEN: 'x' } });
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /--env NOT_SET_ANYWHERE: NOT_SET_ANYWHERE is not set in ptg's environment/);
  });

  test('a secret the agent prints and writes is masked everywhere ptg keeps it, and status.json says where', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: leak ARTIFACTORY_TOKEN\n' }, { versions: { v1: { requiredEnv: ['ARTIFACTORY_TOKEN'] } } }, { '.gitignore': 'build/\n' });
    const r = await w.run(['v1', '--json'], { env: { ARTIFACTORY_TOKEN: SECRET, ANTHROPIC_API_KEY: `${SECRET}-api` } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await ptg(['collect', 'v1'], { cwd: w.root })).code, 0);
    const grep = spawnSync('grep', ['-rl', '--', SECRET, w.ws], { encoding: 'utf8' });
    assert.equal(grep.status, 1, `the value is in: ${grep.stdout}`);
    assert.ok(!(r.stdout + r.stderr).includes(SECRET));
    const dir = w.expDir('1', 'v1', runIdOf(r.stderr + r.stdout));
    assert.match(fs.readFileSync(path.join(dir, 'claude.log'), 'utf8'), /The token is \*\*\*ARTIFACTORY_TOKEN\*\*\*\./);
    assert.equal(fs.readFileSync(path.join(dir, 'files/tests/test_leak.py'), 'utf8'), 'TOKEN = "***ARTIFACTORY_TOKEN***"\n');
    assert.equal(fs.readFileSync(path.join(w.slot('1'), 'tests/test_leak.py'), 'utf8'), 'TOKEN = "***ARTIFACTORY_TOKEN***"\n');
    const masked = fs.readJsonSync(path.join(dir, 'status.json')).masked.map((m: { where: string; file: string }) => `${m.where}:${m.file}`).sort();
    // The slot is masked before git sees it, so changes.patch and files/ never held the value.
    assert.deepEqual(masked, ['experiment:claude.jsonl', 'experiment:stderr.log', 'slot:build/leak.log', 'slot:tests/test_leak.py']);
    assert.match(fs.readFileSync(path.join(dir, 'changes.patch'), 'utf8'), /\+TOKEN = "\*\*\*ARTIFACTORY_TOKEN\*\*\*"/);
    assert.equal(fs.statSync(path.join(dir, 'claude.jsonl')).mode & 0o777, 0o600);
  });

  test('artifacts: matching files are copied before the reset, ignored ones too, listed and linked from the reports', async () => {
    const w = await setUpWorkspace(
      { '1': `# STP 1\n${write('test_run.log', '3 passed\n')}${write('build/reports/std_1.md', '# STD 1\n')}${write('notes.txt', 'n\n')}` },
      { versions: { v1: { artifacts: ['test_run.log', '**/std_*.md'] } } },
      { '.gitignore': 'build/\n' },
    );
    const r = await w.run(['v1', '--artifact', 'notes.txt']);
    assert.equal(r.code, 0, r.stderr);
    const id = runIdOf(r.stdout);
    const dir = w.expDir('1', 'v1', id);
    const status = fs.readJsonSync(path.join(dir, 'status.json'));
    assert.deepEqual(status.artifacts, ['build/reports/std_1.md', 'notes.txt', 'test_run.log']);
    assert.equal(fs.readFileSync(path.join(dir, 'artifacts/build/reports/std_1.md'), 'utf8'), '# STD 1\n', 'an ignored file is kept too');
    assert.equal((await ptg(['collect', 'v1'], { cwd: w.root })).code, 0);
    const results = path.join(w.ws, `results_v1_${id}`);
    assert.match(fs.readFileSync(path.join(results, 'summary.md'), 'utf8'), /- \[`test_run\.log`\]\(stp_1\/artifacts\/test_run\.log\)/);
    assert.match(fs.readFileSync(path.join(results, 'report.html'), 'utf8'), /href="stp_1\/artifacts\/build\/reports\/std_1\.md"/);
    assert.ok(fs.existsSync(path.join(results, 'stp_1/artifacts/test_run.log')));
  });

  test('doctor says which required variables are set and which are missing, never a value', async () => {
    const w = await setUpWorkspace({ '1': '' }, { versions: { v2: { requiredEnv: ['KUBECONFIG', 'ARTIFACTORY_TOKEN'] } } });
    const r = await ptg(['doctor', '--agent', FAKE_AGENT], { cwd: w.root, env: { IS_SANDBOX: '1', KUBECONFIG: SECRET, ARTIFACTORY_TOKEN: '' } });
    assert.match(r.stdout, /env v2 +KUBECONFIG set; ARTIFACTORY_TOKEN missing: `ptg run v2` refuses to start/);
    assert.ok(!r.stdout.includes(SECRET));
  });

  test('versions in ptg.config.json are checked: an unknown version or key is an error naming it', async () => {
    const w = await setUpWorkspace({ '1': '' });
    const config = path.join(w.root, 'ptg.config.json');
    fs.writeJsonSync(config, { versions: { v9: {} } });
    const unknown = await w.run(['v1']);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr.trim(), 'ptg: ptg.config.json: "versions" names "v9", which the root has no folder for. Known versions: v1, v2.');
    fs.writeJsonSync(config, { versions: { v1: { requiredEnvs: ['X'] } } });
    const key = await w.run(['v1']);
    assert.equal(key.code, 2);
    assert.equal(key.stderr.trim(), 'ptg: ptg.config.json: unknown key "versions.v1.requiredEnvs". Known keys in "versions.v1": requiredEnv, env, artifacts, model, sequential, carry, checks, sandbox.');
  });
});

describe('ptg run --dry-run', () => {
  test('prints the plan and starts nothing: no agent process, nothing written in the workspace', async () => {
    const record = tmpDir('ptg-record-');
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: hang\n', '2': '# STP 2\n' }, { versions: { v1: { requiredEnv: ['ARTIFACTORY_TOKEN'] } } });
    const listing = () =>
      spawnSync('find', [w.ws, '-path', `${w.ws}/.ptg/mirror.git`, '-prune', '-o', '-printf', '%p %s %T@\\n'], { encoding: 'utf8' }).stdout.split('\n').sort().join('\n');
    const before = listing();
    const env = { FAKE_AGENT_RECORD: record, ARTIFACTORY_TOKEN: SECRET };
    const r = await w.run(['v1', '--dry-run', '--model', 'opus,sonnet', '--timeout', '30m', '--env', 'KUBECONFIG=/k', '--max-cost', '5'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /budget +\$5\.0+ for the run · retries 0/);
    assert.match(r.stdout, /^Dry run: would run v1 \([0-9a-f]{12}\) as run \d{8}_\d{6}: 4 experiment\(s\), 4 at a time; nothing was started or written\.$/m);
    assert.match(r.stdout, /env +ARTIFACTORY_TOKEN, KUBECONFIG \(names only\)/);
    assert.match(r.stdout, /^\[STP 1 opus\] in 1-upstream → .*experiments\/v1_experiment_\d{8}_\d{6}_opus\/1-upstream$/m);
    assert.match(r.stdout, /fake-agent\.mjs -p --dangerously-skip-permissions --output-format stream-json --verbose --model sonnet < prompt/);
    assert.match(r.stdout, /^ {2}\| Write pytest tests for this plan:$/m);
    assert.ok(!(r.stdout + r.stderr).includes(SECRET));
    assert.deepEqual(fs.readdirSync(record), [], 'no agent process started, not even for --version');
    assert.equal(listing(), before, 'nothing written in the workspace');

    const json = await w.run(['v1', '--dry-run', '--json'], { env });
    const data = JSON.parse(json.stdout);
    assert.deepEqual(data.experiments.map((e: { stp: string }) => e.stp), ['1', '2']);
    assert.equal(data.timeoutMs, undefined);
    assert.deepEqual(data.agent.env, ['ARTIFACTORY_TOKEN']);
  });
});

describe('ptg run --retries', () => {
  test('a transient 500 is run again and succeeds; a plain failure and a timeout are not retried', async () => {
    const record = tmpDir('ptg-record-');
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: flaky 500\n', '2': '# STP 2\nfake: exit 3\n', '3': '# STP 3\nfake: hang\n' });
    const r = await w.run(['v1', '--retries', '2', '--timeout', '2s', '--run-id', 'retry'], { env: { FAKE_AGENT_RECORD: record } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /\[STP 1\] API error 500: trying again \(attempt 2\)/);
    const one = w.expDir('1', 'v1', 'retry');
    const s1 = fs.readJsonSync(path.join(one, 'status.json'));
    assert.equal(s1.state, 'succeeded');
    assert.deepEqual(s1.retries, [{ attempt: 1, reason: 'API error 500', costUsd: 0.0125, tokens: { input: 1000, output: 200, cacheRead: 50, cacheCreation: 10 } }]);
    assert.equal(s1.costUsd, 0.025, 'both attempts are paid for');
    assert.equal(s1.tokens.input, 2000);
    assert.equal(fs.readJsonSync(path.join(one, 'attempt-1', 'status.json')).apiErrorStatus, 500);
    const manifest = fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1/retry/manifest.json'));
    assert.deepEqual(manifest.experiments.map((e: { attempts: number; state: string }) => [e.state, e.attempts]), [['succeeded', 2], ['failed', 1], ['timed_out', 1]]);
    for (const stp of ['2', '3']) assert.ok(!fs.existsSync(path.join(w.expDir(stp, 'v1', 'retry'), 'attempt-1')), `STP ${stp} was not retried`);
    assert.equal((await ptg(['collect', 'v1', 'retry'], { cwd: w.root })).code, 0);
    assert.match(fs.readFileSync(path.join(w.ws, 'results_v1_retry', 'summary.md'), 'utf8'), /Attempts: 2 \(attempt 1: API error 500, \$0\.0125\); cost and tokens count all of them\./);
  });
});

describe('adaptive concurrency', () => {
  test('an API that serves 2 at once: -j 4 --repeat 3 over 4 STPs finishes 12/12 with at most 6 refused starts, queued again, the changes said and kept', async () => {
    const capacity = tmpDir('ptg-capacity-');
    const stp = (n: number) => `# STP ${n}\nfake: capacity 2\nfake: sleep 1500\nfake: write tests/test_${n}.py "def test_${n}():\\n    pass\\n"\n`;
    const w = await setUpWorkspace({ '1': stp(1), '2': stp(2), '3': stp(3), '4': stp(4) });
    const r = await w.run(['v1', '-j', '4', '--repeat', '3', '--sandbox-rw', capacity, '--run-id', 'busy'], { env: { FAKE_AGENT_CAPACITY_DIR: capacity } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const refused = fs.readFileSync(path.join(capacity, 'refused.log'), 'utf8').split('\n').filter(Boolean);
    assert.ok(refused.length >= 1 && refused.length <= 6, `${refused.length} refused starts`);
    assert.equal(fs.readFileSync(path.join(capacity, 'served.log'), 'utf8').split('\n').filter(Boolean).length, 12);
    const manifest = fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1/busy/manifest.json'));
    assert.deepEqual(manifest.experiments.map((e: { state: string }) => e.state), Array(12).fill('succeeded'));
    assert.deepEqual(manifest.concurrencyChanges[0], { ...manifest.concurrencyChanges[0], from: 4, to: 2 });
    assert.match(manifest.concurrencyChanges[0].reason, /^API error 429 at STP \d/);
    assert.match(r.stdout, /concurrency 4 → 2: API error 429 at STP \d/);
    assert.match(r.stdout, /API error 429 before any work: queued again \(not a failure\)/);
    const statuses = manifest.experiments.map((e: { dir: string }) => fs.readJsonSync(path.join(e.dir, 'status.json')));
    const queued = statuses.flatMap((s: { retries?: { rateLimited?: boolean }[] }) => s.retries ?? []);
    assert.equal(queued.length, refused.length);
    assert.ok(queued.every((a: { rateLimited?: boolean }) => a.rateLimited));
  });
});

describe('usage limits', () => {
  const logged = (dir: string, name: string) =>
    fs.existsSync(path.join(dir, name)) ? fs.readFileSync(path.join(dir, name), 'utf8').split('\n').filter(Boolean).map((l) => ({ stp: l.split(' ')[0]!, at: Number(l.split(' ')[1]) })) : [];
  const stp = (n: number, limit: string) => `# STP ${n}\nfake: usage-limit ${limit}\nfake: write tests/test_${n}.py "def test_${n}():\\n    pass\\n"\n`;

  test('one resetting in 6 s is waited out: no agent starts meanwhile, the limited ones run again, nothing fails', async () => {
    const limits = tmpDir('ptg-limit-');
    const w = await setUpWorkspace({ '1': stp(1, '6'), '2': stp(2, '6'), '3': stp(3, '6') });
    const r = await w.run(['v1', '-j', '2', '--sandbox-rw', limits, '--run-id', 'waited'], { env: { FAKE_AGENT_LIMIT_DIR: limits } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const resetsAt = Number(fs.readFileSync(path.join(limits, 'resets-at'), 'utf8')) * 1000;
    const limited = logged(limits, 'limited.log');
    // Only agents started before the first limited one ended met it: the third waited.
    assert.ok(limited.length >= 1 && limited.length <= 2, `${limited.length} limited`);
    const served = logged(limits, 'served.log');
    assert.deepEqual(served.map((s) => s.stp).sort(), ['1', '2', '3']);
    assert.ok(served.every((s) => s.at >= resetsAt), 'every agent served started after the reset');
    const manifest = fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1/waited/manifest.json'));
    assert.deepEqual(manifest.experiments.map((e: { state: string }) => e.state), ['succeeded', 'succeeded', 'succeeded']);
    assert.equal(manifest.state, 'finished');
    assert.equal(manifest.usageLimits.length, 1);
    assert.equal(manifest.usageLimits[0].resetsAt, new Date(resetsAt).toISOString());
    assert.match(r.stdout, /usage limit at STP \d \(Claude AI usage limit reached\|\d+\): no agent starts until .*, its reset/);
    assert.match(r.stdout, /usage limit: runs again after the reset \(not a failure\)/);
    for (const { stp: id } of limited) {
      const dir = w.expDir(id, 'v1', 'waited');
      const status = fs.readJsonSync(path.join(dir, 'status.json'));
      assert.equal(status.retries.length, 1);
      assert.deepEqual(status.retries[0], { ...status.retries[0], usageLimit: true, reason: `Claude AI usage limit reached|${resetsAt / 1000}` });
      const first = fs.readJsonSync(path.join(dir, 'attempt-1', 'status.json'));
      assert.equal(first.state, 'usage_limited');
      assert.equal(first.usageLimit.resetsAt, new Date(resetsAt).toISOString());
    }
  });

  test('one an hour away with --max-wait 3s stops the run (exit 75), status.json says when it resets, and --resume finishes it', async () => {
    const limits = tmpDir('ptg-limit-');
    const w = await setUpWorkspace({ '1': stp(1, '3600 clock'), '2': stp(2, '3600 clock') });
    const args = ['v1', '-j', '1', '--max-wait', '3s', '--sandbox-rw', limits];
    const env = { FAKE_AGENT_LIMIT_DIR: limits };
    const r = await w.run([...args, '--run-id', 'stopped'], { env });
    assert.equal(r.code, 75, r.stdout + r.stderr);
    assert.match(r.stdout, /usage limit at STP 1 \(You've hit your session limit · resets [\d:]+[ap]m \(UTC\)\): it resets at .* past --max-wait 3s\. No agent starts any more/);
    assert.match(r.stdout, /0\/2 succeeded .* stopped at the usage limit/);
    assert.match(r.stdout, /Next: after the reset \(.*\), ptg run v1 --resume stopped/);
    const resetsAt = Math.ceil(Number(fs.readFileSync(path.join(limits, 'resets-at'), 'utf8')) / 60) * 60_000;
    const status = fs.readJsonSync(path.join(w.expDir('1', 'v1', 'stopped'), 'status.json'));
    assert.equal(status.state, 'usage_limited');
    assert.equal(status.usageLimit.resetsAt, new Date(resetsAt).toISOString());
    assert.match(fs.readFileSync(path.join(w.expDir('1', 'v1', 'stopped'), 'status.txt'), 'utf8'), /^\[STP 1\] ✗ Usage limit, resets at \d{4}-\d\d-\d\d [\d:]{8}\n$/);
    assert.ok(!fs.existsSync(path.join(w.expDir('2', 'v1', 'stopped'), 'status.json')), 'STP 2 never started');
    const manifest = fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1/stopped/manifest.json'));
    assert.equal(manifest.state, 'usage_limited');
    assert.deepEqual(manifest.experiments.map((e: { state: string }) => e.state), ['usage_limited', 'usage_limited']);
    assert.deepEqual(manifest.usageLimits.map((u: { stp: string; stopped?: boolean }) => [u.stp, u.stopped]), [['1', true]]);
    assert.equal(logged(limits, 'limited.log').length, 1);

    const collected = await ptg(['collect', 'v1', 'stopped'], { cwd: w.root });
    assert.equal(collected.code, 0, collected.stderr);
    assert.match(fs.readFileSync(path.join(w.ws, 'results_v1_stopped', 'summary.md'), 'utf8'), /stopped at the agent's usage limit/);

    fs.writeFileSync(path.join(limits, 'lifted'), '');
    const resumed = await w.run([...args, '--resume', 'stopped'], { env });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    const after = fs.readJsonSync(path.join(w.ws, '.ptg/runs/v1/stopped/manifest.json'));
    assert.equal(after.state, 'finished');
    assert.deepEqual(after.experiments.map((e: { state: string }) => e.state), ['succeeded', 'succeeded']);
    assert.deepEqual(logged(limits, 'served.log').map((s) => s.stp).sort(), ['1', '2']);
  });
});

describe('a cost budget', () => {
  test('--max-cost 0.02 with -j 1 and 0.0125 an experiment runs exactly two; the others are skipped (budget); --max-cost-per-experiment reaches claude', async () => {
    const record = tmpDir('ptg-record-');
    const w = await setUpWorkspace({ '1': '# STP 1\n', '2': '# STP 2\n', '3': '# STP 3\n', '4': '# STP 4\n' });
    const r = await w.run(['v1', '-j', '1', '--max-cost', '0.02', '--max-cost-per-experiment', '1.5', '--run-id', 'budget'], { env: { FAKE_AGENT_RECORD: record } });
    assert.equal(r.code, 1, r.stderr);
    const states = ['1', '2', '3', '4'].map((stp) => fs.readJsonSync(path.join(w.expDir(stp, 'v1', 'budget'), 'status.json')));
    assert.deepEqual(states.map((s) => s.state), ['succeeded', 'succeeded', 'skipped', 'skipped']);
    assert.deepEqual(states.map((s) => s.budget), [undefined, undefined, 'run', 'run']);
    assert.equal(fs.readFileSync(path.join(w.expDir('3', 'v1', 'budget'), 'status.txt'), 'utf8'), "[STP 3] ✗ Skipped: the run's --max-cost was spent\n");
    assert.equal(fs.readdirSync(record).filter((n) => n.endsWith('.argv.json')).length, 2, 'two agents started');
    assert.deepEqual(fs.readJsonSync(path.join(record, '1-upstream.argv.json')).slice(-2), ['--max-budget-usd', '1.5']);
    assert.match(r.stdout, /skipped \(budget\)/);
    assert.equal((await ptg(['collect', 'v1', 'budget'], { cwd: w.root })).code, 0);
    assert.match(fs.readFileSync(path.join(w.ws, 'results_v1_budget', 'summary.md'), 'utf8'), /^\| 3 \| skipped \(budget\) \|/m);
  });
});

describe('ptg show', () => {
  test('prints a finished and a running experiment turn by turn; --tools summarises; --json gives the turns', async () => {
    const w = await setUpWorkspace({ '1': `# STP 1\n${write('tests/test_one.py', 'x = 1\n')}`, '2': `# STP 2\n${write('tests/test_two.py', 'y = 2\n')}fake: hang\n` });
    let ptgPid = 0;
    const running = w.run(['v1', '--run-id', 'shown'], { onSpawn: (pid) => (ptgPid = pid) });
    const output = path.join(w.expDir('2', 'v1', 'shown'), 'claude.jsonl');
    await waitFor('STP 1 to finish and STP 2 to write', () => w.findExp('1', 'status.txt') && fs.existsSync(output) && fs.readFileSync(output, 'utf8').includes('Write'));

    const done = await ptg(['show', 'v1', 'shown', '--stp', '1'], { cwd: w.root });
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /^\[init\] model fake-model-1/m);
    assert.match(done.stdout, /^Working on STP 1\. \(1000 in, 200 out\)$/m);
    assert.match(done.stdout, /^→ Write .*\/tests\/test_one\.py$/m);
    assert.match(done.stdout, /^ {2}← File written$/m);
    assert.match(done.stdout, /^\[result\] success · \d+ turns · \$0\.0125/m);

    const live = await ptg(['show', 'v1', '--stp', '2'], { cwd: w.root });
    assert.equal(live.code, 0, live.stderr);
    assert.match(live.stdout, /→ Write .*\/tests\/test_two\.py/);
    assert.match(live.stdout, /no result yet: the agent is still running/);

    const tools = await ptg(['show', 'v1', 'shown', '--stp', '1', '--tools'], { cwd: w.root });
    assert.match(tools.stdout, /^Write +1$/m);
    assert.match(tools.stdout, /^Files written\n {2}.*\/tests\/test_one\.py$/m);
    const json = JSON.parse((await ptg(['show', 'v1', 'shown', '--stp', '1', '--json'], { cwd: w.root })).stdout);
    assert.deepEqual(json.entries.map((e: { kind: string }) => e.kind), ['init', 'text', 'tool', 'result']);
    assert.equal(json.summary.tools.Write, 1);

    const none = await ptg(['show', 'v1', 'shown', '--stp', '9'], { cwd: w.root });
    assert.equal(none.code, 1);
    assert.equal(none.stderr.trim(), 'ptg: Run shown of v1 has no experiment of STP 9.');
    process.kill(ptgPid, 'SIGINT');
    assert.equal((await running).code, 130);
  });
});

describe('transcript pages', () => {
  test('collect writes one per experiment, linked from report.html: the Write call with its path, the error, and a huge output cut under 10 MB', async () => {
    const w = await setUpWorkspace({
      '1': `# STP 1\n${write('tests/test_one.py', 'x = 1\n')}`,
      '2': '# STP 2\nfake: error 500 Internal server error\n',
      '3': '# STP 3\nfake: spam 50\n',
    });
    assert.equal((await w.run(['v1', '--run-id', 'pages'])).code, 1);
    assert.equal((await ptg(['collect', 'v1', 'pages'], { cwd: w.root })).code, 0);
    const results = path.join(w.ws, 'results_v1_pages');
    assert.match(fs.readFileSync(path.join(results, 'report.html'), 'utf8'), /<a href="stp_1\/transcript\.html">Transcript<\/a>/);
    const one = fs.readFileSync(path.join(results, 'stp_1', 'transcript.html'), 'utf8');
    assert.match(one, /→ <b>Write<\/b> <code>[^<]*\/tests\/test_one\.py<\/code>/);
    assert.match(one, /Files written:<\/p><ul><li><code>[^<]*test_one\.py<\/code>/);
    assert.doesNotMatch(one, /<script|<link|src="http/);
    assert.match(fs.readFileSync(path.join(results, 'stp_2', 'transcript.html'), 'utf8'), /class="error">First error: API Error: 500 Internal server error/);
    const big = path.join(results, 'stp_3', 'transcript.html');
    assert.ok(fs.statSync(path.join(results, 'stp_3', 'claude.jsonl')).size > 50 * 1024 * 1024);
    assert.ok(fs.statSync(big).size < 10 * 1024 * 1024, `${fs.statSync(big).size} bytes`);
    assert.match(fs.readFileSync(big, 'utf8'), /Cut after [\d.]+ of [\d.]+ MB of output.*<a href="claude\.jsonl">claude\.jsonl<\/a>/);
  });
});
