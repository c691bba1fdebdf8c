// Start and end of the ptg process: what a command loads, and exit codes after signals.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import fs from 'fs-extra';
import { EXIT, exitForSignal } from '../src/errors.js';
import { FAKE_AGENT, isAlive, makeRoot, PROJECT, PTG_BIN, type PtgResult, setUpWorkspace, tmpDir, waitFor } from './support/fixtures.js';

const LOAD_LOG = path.join(PROJECT, 'test', 'support', 'load-log.mjs');

/** `node <nodeArgs> bin/ptg.js <args>`, as fixtures' `ptg` runs it, with Node flags in front. */
function ptgWith(nodeArgs: string[], args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; onSpawn?: (child: ChildProcessWithoutNullStreams) => void } = {}): Promise<PtgResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, PTG_BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: '1', CI: 'true', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    opts.onSpawn?.(child);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The packages under node_modules and ptg's own modules that `ptg <args>` loads. */
async function loaded(args: string[], cwd: string): Promise<{ packages: Set<string>; own: string[]; result: PtgResult }> {
  const log = path.join(tmpDir(), 'loaded.txt');
  const result = await ptgWith(['--import', LOAD_LOG], args, { cwd, env: { PTG_TEST_LOAD_LOG: log } });
  const urls = fs.readFileSync(log, 'utf8').trim().split('\n');
  const packages = new Set(urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter((p): p is string => p !== undefined));
  const dist = pathToFileURL(path.join(PROJECT, 'dist')).href;
  const own = urls.filter((u) => u.startsWith(`${dist}/`)).map((u) => `dist${u.slice(dist.length)}`);
  return { packages, own, result };
}

describe('start-up: a command loads what it uses', () => {
  test('--version and --help load commander and nothing else', async () => {
    const root = makeRoot(tmpDir());
    for (const args of [['--version'], ['--help']]) {
      const { packages, own, result } = await loaded(args, root);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual([...packages], ['commander'], `ptg ${args[0]} loads ${[...packages].join(', ')}`);
      assert.deepEqual(own.filter((m) => m.includes('/commands/')), [], `ptg ${args[0]} loads no command module`);
    }
  });

  test('ptg runs, status and compare load neither execa nor simple-git', async () => {
    const root = makeRoot(tmpDir());
    for (const args of [['runs', '--json'], ['status', '--json'], ['compare', 'v1'], ['collect', 'v1', '--list']]) {
      const { packages, own, result } = await loaded(args, root);
      // compare exits 1 (no runs yet) after loading everything it needs.
      assert.ok(result.code === 0 || result.code === 1, `ptg ${args.join(' ')}: ${result.stderr}`);
      assert.ok(own.some((m) => m.startsWith(`dist/commands/${args[0] === 'collect' ? 'runs' : args[0]}.js`)), `ptg ${args.join(' ')} ran its command`);
      for (const heavy of ['execa', 'simple-git']) assert.ok(!packages.has(heavy), `ptg ${args.join(' ')} loads ${heavy}`);
    }
  });
});

describe('signals', () => {
  test('exit codes: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP', () => {
    assert.deepEqual(['SIGINT', 'SIGTERM', 'SIGHUP'].map(exitForSignal), [130, 143, 129]);
    assert.equal(exitForSignal(undefined), EXIT.interrupted);
  });

  test('SIGHUP and SIGTERM wind a run down like Ctrl-C, each with its exit code; a second signal quits at once with its own', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: hang\n', '2': '# STP 2\nfake: grandchild\nfake: ignore-term\nfake: hang\n' });
    /** `ptg run v1 --stp <stp>`, its experiment folder once the agent has begun to write, and the agent's pid. */
    const start = async (stp: string) => {
      let child: ChildProcessWithoutNullStreams | undefined;
      const before = new Set(fs.readdirSync(w.slot(stp)));
      const done = ptgWith([], ['run', 'v1', '--stp', stp, '--agent', FAKE_AGENT], { cwd: w.root, env: { IS_SANDBOX: '1' }, onSpawn: (c) => (child = c) });
      const dir = await waitFor('the agent to start', () => {
        const name = fs.readdirSync(w.slot(stp)).find((n) => !before.has(n) && n.includes('_experiment_'));
        const status = name && fs.readJsonSync(path.join(w.slot(stp), name, 'status.json'), { throws: false });
        return name && status?.pid ? path.join(w.slot(stp), name) : undefined;
      });
      return { done, ptg: child!, dir, agent: fs.readJsonSync(path.join(dir, 'status.json')).pid as number };
    };

    const hup = await start('1');
    hup.ptg.kill('SIGHUP');
    const hupResult = await hup.done;
    assert.equal(hupResult.code, 129, hupResult.stdout + hupResult.stderr);
    assert.match(hupResult.stderr, /SIGHUP: stopping every agent/);
    assert.equal(fs.readJsonSync(path.join(hup.dir, 'status.json')).state, 'interrupted');
    assert.equal(isAlive(hup.agent), false, 'the agent outlived ptg');

    const term = await start('1');
    term.ptg.kill('SIGTERM');
    const termResult = await term.done;
    assert.equal(termResult.code, 143, termResult.stdout + termResult.stderr);
    assert.equal(fs.readJsonSync(path.join(term.dir, 'status.json')).state, 'interrupted');

    const twice = await start('2');
    // The agent prints its grandchild's pid just before it starts to ignore SIGTERM.
    await waitFor('the agent to ignore SIGTERM', () => /grandchild pid/.test(fs.readFileSync(path.join(twice.dir, 'claude.jsonl'), 'utf8')));
    twice.ptg.kill('SIGTERM');
    await new Promise<void>((resolve) => twice.ptg.stderr.on('data', (d) => String(d).includes('SIGTERM: stopping') && resolve()));
    twice.ptg.kill('SIGHUP');
    const twiceResult = await twice.done;
    assert.equal(twiceResult.code, 129, twiceResult.stdout + twiceResult.stderr);
    await waitFor('the agent that ignores SIGTERM to be gone', () => !isAlive(twice.agent), 3000);
  });
});
