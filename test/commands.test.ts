import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import fs from 'fs-extra';
import { FAKE_AGENT, PROJECT, ptg, runIdOf, setUpWorkspace, waitFor } from './support/fixtures.js';

describe('help and version', () => {
  test('--version, and --help with examples on every command', async () => {
    const version = await ptg(['--version']);
    assert.equal(version.stdout.trim(), fs.readJsonSync(path.join(PROJECT, 'package.json')).version);
    const main = await ptg(['--help']);
    assert.equal(main.code, 0);
    const commands = ['setup', 'run', 'collect', 'compare', 'runs', 'pack', 'status', 'doctor', 'clean'];
    for (const command of commands) {
      assert.match(main.stdout, new RegExp(`^  ${command}\\b`, 'm'), `ptg --help lists ${command}`);
      const help = await ptg([command, '--help']);
      assert.equal(help.code, 0, command);
      assert.match(help.stdout, /Examples:\n {2}\$ ptg /, `${command} --help shows examples`);
    }
  });

  test('an unknown command or option is a usage error', async () => {
    assert.equal((await ptg(['launch'])).code, 2);
    const r = await ptg(['run', 'v1', '--concurency', '2']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--concurency'/);
  });
});

describe('ptg status', () => {
  test('shows a run in progress from another process, then nothing', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: hang\n', '2': '# STP 2\n' });
    let ptgPid = 0;
    const running = w.run(['v1'], { onSpawn: (pid) => (ptgPid = pid) });
    await waitFor('STP 2 to finish', () => w.findExp('2', 'status.txt'));
    const r = await ptg(['status'], { cwd: w.root });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /v1 \S+ · running \(ptg pid \d+\) · 1\/2 done/);
    assert.match(r.stdout, /^ {2}1 +… running +\d+ +[\d.]+s/m);
    process.kill(ptgPid, 'SIGINT');
    assert.equal((await running).code, 130);
    assert.match((await ptg(['status'], { cwd: w.root })).stdout, /Nothing is running/);
  });
});

describe('ptg doctor', () => {
  test('a table of checks; exit 1 when the agent is missing', async () => {
    const w = await setUpWorkspace({ '1': '' });
    const ok = await ptg(['doctor', '--agent', FAKE_AGENT], { cwd: w.root, env: { IS_SANDBOX: '1' } });
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /✓ +agent +.*fake-agent.mjs 0\.0\.1 \(fake agent\)/);
    assert.match(ok.stdout, /✓ +workspace +.*parallel: /);
    assert.match(ok.stdout, /pyright +\d+\.\d+\.\d+ \(npm, bundled with ptg\)/);
    const missing = await ptg(['doctor', '--agent', '/no/agent'], { cwd: w.root, env: { IS_SANDBOX: '1' } });
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /✗ +agent +\/no\/agent not found/);
  });

  test('names the path and version of the claude a run would use, and says when a project\'s node_modules/.bin comes first on PATH', async () => {
    const w = await setUpWorkspace({ '1': '' });
    // Two `claude`s on PATH, as with `npx ptg` in an experiment repository that has its own.
    const project = path.join(w.dir, 'experiments-repo', 'node_modules', '.bin');
    const global = path.join(w.dir, 'global-bin');
    for (const dir of [project, global]) fs.ensureSymlinkSync(FAKE_AGENT, path.join(dir, 'claude'));
    const env = { IS_SANDBOX: '1', PATH: [global, process.env.PATH].join(path.delimiter) };

    const plain = await ptg(['doctor'], { cwd: w.root, env });
    assert.equal(plain.code, 0, plain.stdout);
    assert.match(plain.stdout, new RegExp(`✓ +agent +${global}/claude 0\\.0\\.1 \\(fake agent\\) · the first claude on PATH · links to ${FAKE_AGENT}`));
    assert.doesNotMatch(plain.stdout, /agent on PATH/);

    const npx = await ptg(['doctor'], { cwd: w.root, env: { ...env, PATH: [project, env.PATH].join(path.delimiter) } });
    assert.equal(npx.code, 0, npx.stdout);
    assert.match(npx.stdout, new RegExp(`✓ +agent +${project}/claude 0\\.0\\.1 \\(fake agent\\) · .* · also on PATH: ${global}/claude`));
    assert.match(npx.stdout, new RegExp(`! +agent on PATH +note: first on PATH is a project's node_modules/\\.bin \\(${project};.*rather than ${global}/claude`));

    const named = await ptg(['doctor'], { cwd: w.root, env: { ...env, PTG_AGENT: FAKE_AGENT } });
    assert.match(named.stdout, new RegExp(`✓ +agent +${FAKE_AGENT} 0\\.0\\.1 \\(fake agent\\) · from PTG_AGENT`));
  });
});

describe('the first line of ptg run', () => {
  test('names the agent\'s path, and its version once a run or doctor has asked this same file', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n' });
    const bin = path.join(w.dir, 'bin');
    const claude = path.join(bin, 'claude');
    fs.ensureDirSync(bin);
    fs.copyFileSync(FAKE_AGENT, claude);
    const env = { IS_SANDBOX: '1', PATH: [bin, process.env.PATH].join(path.delimiter) };
    const firstLine = async () => {
      const r = await ptg(['run', 'v1'], { cwd: w.root, env });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return r.stdout.split('\n')[0]!;
    };

    // Asking would delay the agents: the first run names the path, and asks once its agents run.
    assert.match(await firstLine(), new RegExp(`· agent ${claude} \\(version asked in the background\\)$`));
    assert.match(await firstLine(), new RegExp(`· agent ${claude} 0\\.0\\.1 \\(fake agent\\)$`));

    // Another file at that path (an update) is asked again; doctor always asks, and records it.
    fs.appendFileSync(claude, '// updated\n');
    assert.match(await firstLine(), /\(version asked in the background\)$/);
    fs.appendFileSync(claude, '// updated again\n');
    assert.equal((await ptg(['doctor'], { cwd: w.root, env })).code, 0);
    assert.match(await firstLine(), /0\.0\.1 \(fake agent\)$/);
  });
});

describe('ptg clean', () => {
  test('removes what it is told; uncommitted work only with --force', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\n', '2': '# STP 2\n' });
    const id = runIdOf((await w.run(['v1'])).stdout);
    assert.equal((await ptg(['collect', 'v1'], { cwd: w.root })).code, 0);
    assert.equal((await ptg(['clean'], { cwd: w.root })).code, 2);

    assert.equal((await ptg(['clean', '--results'], { cwd: w.root })).code, 0);
    assert.ok(!fs.existsSync(path.join(w.ws, `results_v1_${id}`)));
    assert.ok(fs.existsSync(w.expDir('1', 'v1', id)), 'experiments stay');

    fs.appendFileSync(path.join(w.slot('2'), 'README.md'), 'work in progress\n');
    const refused = await ptg(['clean', '--slots'], { cwd: w.root });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /1 slot\(s\) hold uncommitted work no patch has \(2-upstream\).*Nothing was removed/);
    assert.ok(fs.existsSync(w.slot('1')) && fs.existsSync(w.slot('2')));

    assert.equal((await ptg(['clean', '--experiments'], { cwd: w.root })).code, 0);
    assert.ok(!fs.existsSync(w.expDir('1', 'v1', id)));
    assert.match((await ptg(['runs'], { cwd: w.root })).stdout, /No runs/);

    assert.equal((await ptg(['clean', '--slots', '--force'], { cwd: w.root })).code, 0);
    assert.ok(!fs.existsSync(w.slot('2')));
    assert.match((await w.run(['v1'])).stderr, /is not set up: run `ptg setup` first/);
  });
});
