// Issue 20: `ptg run --executor slurm` against a real Slurm: a private single-node cluster
// (test/support/slurm.ts) started for this file, the fake agent as the agent.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fs from 'fs-extra';
import { markedPids } from '../src/io/process/markers.js';
import { FAKE_AGENT, ptg, setUpWorkspace, tmpDir, waitFor } from './support/fixtures.js';
import { type PrivateSlurm, slurmUnavailable, startSlurm } from './support/slurm.js';

const unavailable = slurmUnavailable();
if (unavailable) console.log(`\n!!! THE SLURM TESTS DID NOT RUN: ${unavailable} !!!\n`);

const TIMING = new Set(['date', 'durationMs', 'medianDurationMs', 'meanDurationMs', 'sdDurationMs']);
const withoutTiming = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (key, v) => (TIMING.has(key) ? undefined : v)));

const manifestOf = (ws: string, version: string, id: string) => fs.readJsonSync(path.join(ws, '.ptg', 'runs', version, id, 'manifest.json'));

describe('ptg run --executor slurm', { skip: unavailable }, () => {
  let slurm: PrivateSlurm;
  before(async () => {
    slurm = await startSlurm({ cpus: 8 });
  });
  after(async () => {
    await slurm?.stop();
  });
  const queued = (ids: string[]) => execFileSync('squeue', ['-h', '-j', ids.join(','), '-o', '%i'], { env: { ...process.env, ...slurm.env }, encoding: 'utf8' }).trim();
  const jobsOf = (m: { slurm: { arrayJobId: string; reportJobId: string } }) => [m.slurm.arrayJobId, m.slurm.reportJobId];

  test('4 STPs in 2 tasks give the summary.json a local run gives; squeue is empty when ptg exits 0', async () => {
    const stps = {
      '1': '# STP 1\nfake: write tests/test_1.py "def test_1() -> None:\\n    assert True\\n"\nfake: cost 0.1\n',
      '2': '# STP 2\nfake: cost 0.2\n',
      '3': '# STP 3\nfake: write tests/test_3.py "def test_3() -> None:\\n    assert True\\n"\nfake: cost 0.3\n',
      '4': '# STP 4\nfake: turns 3\n',
    };
    const w = await setUpWorkspace(stps);
    const other = path.join(w.dir, 'local-ws');
    assert.equal((await ptg(['setup', '--repo', w.upstream, '--no-python', '--workspace', other], { cwd: w.root })).code, 0);
    const env = { ...slurm.env };

    const r = await w.run(['v1', '--executor', 'slurm', '--shards', '2', '--run-id', 'same'], { env });
    assert.equal(r.code, 0, r.stdout + r.stderr + slurm.logs());
    assert.match(r.stdout, /Submitted v1 run same to Slurm: job array \d+ \(2 task\(s\), 4 experiment\(s\)\), report job \d+/);
    assert.match(r.stdout, /4\/4 succeeded/);
    const m = manifestOf(w.ws, 'v1', 'same');
    assert.equal(m.state, 'finished');
    assert.equal(queued(jobsOf(m)), '');
    const tasks = ['1', '2', '3', '4'].map((id) => fs.readJsonSync(path.join(w.expDir(id, 'v1', 'same'), 'status.json')).slurm);
    assert.deepEqual(tasks.map((t) => t.arrayTaskId), [0, 1, 0, 1]);
    assert.ok(tasks.every((t) => t.jobId === m.slurm.arrayJobId && t.node === slurm.node));
    assert.deepEqual(m.slurm.tasks, [['1', '3'], ['2', '4']]);

    const local = await w.run(['v1', '--run-id', 'same', '--workspace', other]);
    assert.equal(local.code, 0, local.stderr);
    assert.equal((await ptg(['collect', 'v1', 'same', '--workspace', other], { cwd: w.root })).code, 0);
    const fromSlurm = fs.readJsonSync(path.join(w.ws, 'results_v1_same', 'summary.json'));
    // The agents' own lines name their slot: the same place in either workspace.
    const fromLocal = JSON.parse(fs.readFileSync(path.join(other, 'results_v1_same', 'summary.json'), 'utf8').replaceAll(other, w.ws));
    assert.deepEqual(withoutTiming(fromSlurm), withoutTiming(fromLocal));
  });

  test('Ctrl-C while 4 agents hang: within 10 s no job is queued and no agent is left; --resume finishes the run', async () => {
    const hang = Object.fromEntries(['1', '2', '3', '4'].map((id) => [id, `# STP ${id}\nfake: hang\n`]));
    const w = await setUpWorkspace(hang);
    const env = { ...slurm.env };
    let pid = 0;
    const running = w.run(['v1', '--executor', 'slurm', '--shards', '2', '--run-id', 'cut'], { env, onSpawn: (p) => (pid = p) });
    const manifest = () => (fs.existsSync(path.join(w.ws, '.ptg', 'runs', 'v1', 'cut', 'manifest.json')) ? manifestOf(w.ws, 'v1', 'cut') : undefined);
    const statusOf = (id: string) => fs.readJsonSync(path.join(w.expDir(id, 'v1', 'cut'), 'status.json'), { throws: false });
    await waitFor('4 agents running', () => manifest()?.experiments.every((e: { state: string }) => e.state === 'running') && ['1', '2', '3', '4'].every((id) => statusOf(id)?.marker), 60_000);
    const markers = ['1', '2', '3', '4'].map((id) => statusOf(id).marker as string);
    const jobs = jobsOf(manifest());
    const sent = Date.now();
    process.kill(pid, 'SIGINT');
    const r = await running;
    assert.equal(r.code, 130, r.stdout + r.stderr);
    assert.ok(Date.now() - sent < 10_000, `ptg took ${Date.now() - sent} ms to end the run`);
    assert.equal(queued(jobs), '');
    assert.deepEqual(markers.flatMap((marker) => markedPids(marker)), []);
    const m = manifest();
    assert.equal(m.state, 'interrupted');
    assert.deepEqual(m.experiments.map((e: { state: string }) => e.state), ['interrupted', 'interrupted', 'interrupted', 'interrupted']);

    for (const id of ['1', '2', '3', '4']) fs.writeFileSync(path.join(w.root, 'stps', `${id}.md`), `# STP ${id}\nfake: cost 0.1\n`);
    const resumed = await w.run(['v1', '--resume', 'cut'], { env });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, /Submitted v1 run cut to Slurm/);
    const done = manifest();
    assert.equal(done.state, 'finished');
    assert.deepEqual(done.slurm.earlierJobs, jobs);
    assert.ok(fs.existsSync(path.join(w.expDir('1', 'v1', 'cut'), 'attempt-1', 'status.json')), 'the interrupted attempt is kept');
  });

  test('a refused submission is exit 2 with Slurm\'s reason in one line, and the run id is given back', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n' });
    const r = await w.run(['v1', '--executor', 'slurm', '--sbatch-arg=--partition=nosuch', '--run-id', 'refused'], { env: slurm.env });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /^ptg: Slurm refused the job array of run refused: .*[Ii]nvalid partition.*\n$/);
    assert.equal(fs.existsSync(path.join(w.ws, '.ptg', 'runs', 'v1', 'refused')), false);
  });

  test('a task cancelled mid-run: its experiments fail with that cause in the summary, the other task\'s succeed', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: hang\n', '2': '# STP 2\n', '3': '# STP 3\nfake: hang\n', '4': '# STP 4\n' });
    const running = w.run(['v1', '--executor', 'slurm', '--shards', '2', '--run-id', 'scancel'], { env: slurm.env });
    const manifest = () => (fs.existsSync(path.join(w.ws, '.ptg', 'runs', 'v1', 'scancel', 'manifest.json')) ? manifestOf(w.ws, 'v1', 'scancel') : undefined);
    const m = await waitFor('STP 1 and 3 running', () => {
      const now = manifest();
      return now?.experiments.filter((e: { stp: string; state: string }) => ['1', '3'].includes(e.stp) && e.state === 'running').length === 2 && now;
    }, 60_000);
    execFileSync('scancel', [`${m.slurm.arrayJobId}_0`], { env: { ...process.env, ...slurm.env } });
    const r = await running;
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const summary = fs.readJsonSync(path.join(w.ws, 'results_v1_scancel', 'summary.json'));
    const byStp = Object.fromEntries(summary.experiments.map((e: { stp: string }) => [e.stp, e]));
    for (const id of ['2', '4']) assert.equal(byStp[id].status, 'succeeded');
    for (const id of ['1', '3']) {
      assert.equal(byStp[id].status, 'failed');
      assert.match(byStp[id].agentError, new RegExp(`Slurm task 0 \\(job ${m.slurm.arrayJobId}_0 on \\S+\\) ended CANCELLED`));
    }
    assert.equal(queued(jobsOf(m)), '');
  });

  test('--no-wait returns with the job ids; ptg status shows the jobs; the report job writes the reports', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: sleep 1000\n', '2': '# STP 2\n' });
    const r = await w.run(['v1', '--executor', 'slurm', '--no-wait', '--run-id', 'detached'], { env: slurm.env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const m = manifestOf(w.ws, 'v1', 'detached');
    assert.match(r.stdout, new RegExp(`^${m.slurm.arrayJobId} ${m.slurm.reportJobId}$`, 'm'));
    const early = await w.run(['v1', '--resume', 'detached'], { env: slurm.env });
    assert.equal(early.code, 2, early.stdout + early.stderr);
    assert.match(early.stderr, /still has jobs on Slurm .*wait for them to end, or cancel them/);
    const status = await ptg(['status', 'v1', 'detached'], { cwd: w.root, env: slurm.env });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`slurm: job array ${m.slurm.arrayJobId} \\(2 task\\(s\\)\\), report job ${m.slurm.reportJobId}`));
    await waitFor('the report job', () => fs.existsSync(path.join(w.ws, 'results_v1_detached', 'summary.json')), 60_000);
    await waitFor('the jobs to leave the queue', () => queued(jobsOf(m)) === '', 30_000);
    assert.equal(manifestOf(w.ws, 'v1', 'detached').state, 'finished');
    const runs = await ptg(['runs', 'v1'], { cwd: w.root, env: slurm.env });
    assert.match(runs.stdout, /detached .* finished \(slurm\)/);
  });

  test('--dry-run prints the scripts and the sbatch lines and submits nothing', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n', '2': '# STP 2\n', '3': '# STP 3\n' });
    const r = await w.run(['v1', '--executor', 'slurm', '--shards', '2', '--dry-run', '--run-id', 'dry', '--env', 'TOKEN=s3cret', '--sbatch-arg=--time=10'], { env: slurm.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Slurm: 2 array task\(s\): 0: STP 1,3 · 1: STP 2/);
    assert.match(r.stdout, /\$ sbatch --parsable --job-name=ptg-v1-dry --array=0-1 .*--time=10 .*task\.sh/);
    assert.match(r.stdout, /\$ sbatch --parsable .*--dependency=afterany:<array job id> .*report\.sh/);
    assert.match(r.stdout, /STPS=\('1,3' '2'\)/);
    assert.match(r.stdout, /--env=TOKEN/);
    assert.doesNotMatch(r.stdout, /s3cret/);
    assert.equal(fs.existsSync(path.join(w.ws, '.ptg', 'runs', 'v1', 'dry')), false);
  });
});

describe('ptg run --executor slurm without Slurm', () => {
  test('the config can make Slurm the default, with its shards and sbatch arguments; --executor local overrides it', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n', '2': '# STP 2\n', '3': '# STP 3\n' }, { executor: 'slurm', shards: 3, slurm: { sbatchArgs: ['--time=10'] } });
    const dry = await w.run(['v1', '--dry-run', '--run-id', 'cfg', '--sbatch-arg=--mem=1G']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /Slurm: 3 array task\(s\)/);
    assert.match(dry.stdout, /--array=0-2 .*--time=10 --mem=1G .*task\.sh/);
    const local = await w.run(['v1', '--dry-run', '--executor', 'local']);
    assert.equal(local.code, 0, local.stderr);
    assert.doesNotMatch(local.stdout, /sbatch/);
  });

  test('no sbatch on PATH: one line naming it, exit 2, nothing left of the run', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n' });
    const bin = tmpDir('ptg-nosbatch-');
    for (const tool of ['node', 'git']) fs.symlinkSync(execFileSync('which', [tool], { encoding: 'utf8' }).trim(), path.join(bin, tool));
    const r = await ptg(['run', 'v1', '--executor', 'slurm', '--run-id', 'nowhere', '--sandbox', 'none', '--agent', FAKE_AGENT], { cwd: w.root, env: { IS_SANDBOX: '1', PATH: bin } });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /^ptg: sbatch is not on PATH: --executor slurm needs Slurm's commands/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(fs.existsSync(path.join(w.ws, '.ptg', 'runs', 'v1', 'nowhere')), false);
  });

  test('--shards without --executor slurm, and --shard with it, are usage errors', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n' });
    assert.equal((await w.run(['v1', '--shards', '2'])).code, 2);
    const r = await w.run(['v1', '--executor', 'slurm', '--shard', '1/2']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /give --shards N, not --shard/);
  });
});
