// Start and end of the ptg process: what a command loads, that its output reaches a slow reader
// whole, exit codes after signals, and one clear line when the machine (not ptg) is at fault.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import fs from 'fs-extra';
import { simpleGit } from 'simple-git';
import { parseDuration } from '../src/core/root/duration.js';
import type { RunManifest } from '../src/core/workspace/manifest.js';
import { environmentError, EXIT, exitForSignal, PtgError } from '../src/errors.js';
import { FAKE_AGENT, isAlive, makeRoot, PROJECT, ptg, PTG_BIN, type PtgResult, setUpWorkspace, tmpDir, waitFor } from './support/fixtures.js';

const LOAD_LOG = path.join(PROJECT, 'test', 'support', 'load-log.mjs');
const REJECT_ON_USR2 = path.join(PROJECT, 'test', 'support', 'reject-on-usr2.mjs');

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

function sh(script: string, env: NodeJS.ProcessEnv = {}): Promise<PtgResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { env: { ...process.env, NO_COLOR: '1', CI: 'true', PTG: PTG_BIN, NODE: process.execPath, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
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

/** A run manifest as `ptg run` writes it, with `padding` agent arguments to make it large. */
function fakeManifest(ws: string, runId: string, padding: number): RunManifest {
  return {
    format: 1,
    version: 'v1',
    kind: 'monolithic',
    runId,
    ptgVersion: '0.1.0',
    host: 'test',
    pid: 999_999_999,
    state: 'finished',
    startedAt: `2026-02-09T14:${runId.slice(-2)}:00.000Z`,
    finishedAt: `2026-02-09T15:${runId.slice(-2)}:00.000Z`,
    repo: 'file:///upstream.git',
    agent: { command: 'claude', args: Array.from({ length: padding }, (_, i) => `--padding-argument-number-${i}`), version: '2.1.197' },
    versionHash: 'a'.repeat(64),
    concurrency: 1,
    repeat: 1,
    experiments: [
      { stp: '1', slot: '1-upstream', dir: path.join(ws, '1-upstream', `v1_experiment_${runId}`), baseCommit: 'b'.repeat(40), promptSha256: 'c'.repeat(64), state: 'succeeded', attempts: 1, costUsd: 0.5 },
    ],
  };
}

function writeManifest(ws: string, manifest: RunManifest): void {
  fs.outputJsonSync(path.join(ws, '.ptg', 'runs', manifest.version, manifest.runId, 'manifest.json'), manifest, { spaces: 2 });
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
      assert.ok(own.some((m) => m.startsWith(`dist/commands/reports/${args[0] === 'collect' ? 'runs' : args[0]}.js`)), `ptg ${args.join(' ')} ran its command`);
      for (const heavy of ['execa', 'simple-git']) assert.ok(!packages.has(heavy), `ptg ${args.join(' ')} loads ${heavy}`);
    }
  });
});

describe('output reaches its reader whole', () => {
  const bigWorkspace = () => {
    const root = makeRoot(tmpDir());
    const ws = path.join(root, 'parallel');
    for (let i = 0; i < 40; i++) writeManifest(ws, fakeManifest(ws, `20260209_1430${String(i).padStart(2, '0')}`, 1000));
    return root;
  };

  test('ptg runs --json of more than 1 MiB through a pipe to a slow reader', async () => {
    const root = bigWorkspace();
    // The sleep is the slow reader itself: ptg is done writing long before cat starts reading.
    const r = await sh('"$NODE" "$PTG" runs --json --root "$ROOT" | (sleep 1; cat)', { ROOT: root });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.length > 1 << 20, `only ${r.stdout.length} bytes arrived`);
    const runs = JSON.parse(r.stdout) as { runId: string; agent: { args: string[] } }[];
    assert.equal(runs.length, 40);
    assert.equal(runs.at(-1)!.agent.args.length, 1000);
  });

  test('a reader that leaves early (`| head`) ends nothing with an error', async () => {
    const root = bigWorkspace();
    const r = await sh('"$NODE" "$PTG" runs --json --root "$ROOT" | head -c 100 >/dev/null; echo "ptg exited ${PIPESTATUS[0]}"', { ROOT: root });
    assert.equal(r.stdout.trim(), 'ptg exited 0');
    assert.doesNotMatch(r.stderr, /EPIPE|Error|unexpected/, r.stderr);
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
      const records = path.join(w.ws, 'experiments');
      const runs = () => (fs.existsSync(records) ? fs.readdirSync(records) : []);
      const before = new Set(runs());
      const done = ptgWith([], ['run', 'v1', '--stp', stp, '--agent', FAKE_AGENT], { cwd: w.root, env: { IS_SANDBOX: '1' }, onSpawn: (c) => (child = c) });
      const dir = await waitFor('the agent to start', () => {
        const name = runs().find((n) => !before.has(n));
        const folder = name && path.join(records, name, `${stp}-upstream`);
        const status = folder && fs.readJsonSync(path.join(folder, 'status.json'), { throws: false });
        return status?.pid ? folder : undefined;
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

describe('the machine at fault: one line, exit 1', () => {
  const errno = (code: string, syscall: string, file?: string) =>
    Object.assign(new Error(`${code}: ${syscall}${file ? ` '${file}'` : ''}`), { errno: -1, code, syscall, ...(file ? { path: file } : {}) });

  test("Node's errno errors name the cause and the path", () => {
    const cases: [Error, RegExp][] = [
      [errno('ENOSPC', 'write'), /^No space left on device: free some space, then run again\.$/],
      [errno('ENOSPC', 'open', '/ws/a.json'), /^No space left on device for \/ws\/a\.json: free some space/],
      [errno('EDQUOT', 'write', '/ws/a.json'), /^Disk quota exceeded for \/ws\/a\.json/],
      [errno('EACCES', 'open', '/ws/a.json'), /^Permission denied for \/ws\/a\.json: give your user access/],
      [errno('EPERM', 'rename', '/ws/a.json'), /^Permission denied for \/ws\/a\.json/],
      [errno('EACCES', 'spawn ./agent', './agent'), /^Permission denied running \.\/agent: make it executable/],
      [errno('EROFS', 'mkdir', '/ro/parallel'), /^Read-only file system for \/ro\/parallel: choose a writable folder/],
      [errno('EMFILE', 'open', '/ws/b.log'), /^Too many open files for \/ws\/b\.log: raise the limit/],
      [errno('ENOENT', 'spawn claude', 'claude'), /^claude not found on PATH: install it, or add its folder to PATH\.$/],
      [errno('ENOENT', 'spawn /opt/agent', '/opt/agent'), /^\/opt\/agent not found: check the path\.$/],
    ];
    for (const [error, message] of cases) {
      const mapped = environmentError(error);
      assert.ok(mapped instanceof PtgError, error.message);
      assert.match(mapped.message, message);
      assert.equal(mapped.exitCode, 1);
    }
  });

  test('what is not the machine stays a bug: no mapping', () => {
    for (const error of [new TypeError("Cannot read properties of undefined (reading 'x')"), errno('ENOENT', 'open', '/ws/missing.json'), new PtgError('known'), 'a string', undefined]) {
      assert.equal(environmentError(error), undefined, String(error));
    }
  });

  test('a tool missing from PATH, as execa and child_process report it', async () => {
    const empty = tmpDir();
    const fromExeca = await execa('tar', ['--version'], { env: { PATH: empty }, extendEnv: false }).catch((e: unknown) => e);
    assert.equal(environmentError(fromExeca)?.message, 'tar not found on PATH: install it, or add its folder to PATH.');
    const fromSpawn = await new Promise((resolve) => spawn('ptg-no-such-tool', [], { env: { PATH: empty } }).on('error', resolve));
    assert.equal(environmentError(fromSpawn)?.message, 'ptg-no-such-tool not found on PATH: install it, or add its folder to PATH.');
  });

  test("git's refusals: the fatal line; for dubious ownership, the command that allows the repository", async (t) => {
    const notRepo = tmpDir();
    const viaExeca = await execa('git', ['status'], { cwd: notRepo }).catch((e: unknown) => e);
    assert.match(environmentError(viaExeca)?.message ?? '', /^git: fatal: not a git repository/);
    const viaSimpleGit = await simpleGit(notRepo).status().catch((e: unknown) => e);
    assert.match(environmentError(viaSimpleGit)?.message ?? '', /^git: fatal: not a git repository/);

    if (process.getuid?.() !== 0) return t.skip('needs root to give a repository to another user');
    const foreign = tmpDir();
    await execa('git', ['init', '-q'], { cwd: foreign });
    await execa('chown', ['-R', '65534:65534', foreign]);
    const refused = await execa('git', ['status'], { cwd: foreign }).catch((e: unknown) => e);
    if (!(refused instanceof Error)) return t.skip("this machine's git config trusts every repository (safe.directory=*)");
    const expected = `git refuses the repository at ${foreign}: it belongs to another user. If you trust it, run \`git config --global --add safe.directory ${foreign}\`.`;
    assert.equal(environmentError(refused)?.message, expected);
    assert.equal(environmentError(await simpleGit(foreign).status().catch((e: unknown) => e))?.message, expected);
  });

  test('ptg pack without tar on PATH: one line, exit 1, no stack', async () => {
    const root = makeRoot(tmpDir());
    const ws = path.join(root, 'parallel');
    writeManifest(ws, fakeManifest(ws, '20260209_143000', 0));
    const bin = tmpDir();
    for (const tool of ['git', 'node']) {
      const found = (await execa('sh', ['-c', `command -v ${tool}`])).stdout.trim();
      fs.symlinkSync(found, path.join(bin, tool));
    }
    const r = await ptg(['pack', 'v1'], { cwd: root, env: { PATH: bin } });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, 'ptg: tar not found on PATH: install it, or add its folder to PATH.\n');
  });

  test('a rejection no one awaits during a run (fault injected by a preload): one line, exit 1, no agent left', async () => {
    const w = await setUpWorkspace({ '1': '# STP 1\nfake: grandchild\nfake: hang\n' });
    let ptgPid = 0;
    const running = ptgWith(['--import', REJECT_ON_USR2], ['run', 'v1', '--agent', FAKE_AGENT, '--sandbox', 'none'], { cwd: w.root, env: { IS_SANDBOX: '1' }, onSpawn: (c) => (ptgPid = c.pid!) });
    const dir = await waitFor('the agent to start', () => {
      const found = w.findExp('1', 'claude.jsonl');
      const started = found && /grandchild pid \d+/.test(fs.readFileSync(path.join(found, 'claude.jsonl'), 'utf8')) && fs.existsSync(path.join(found, 'status.json'));
      return started ? found : undefined;
    });
    const agent = fs.readJsonSync(path.join(dir, 'status.json')).pid as number;
    const grandchild = Number(/grandchild pid (\d+)/.exec(fs.readFileSync(path.join(dir, 'claude.jsonl'), 'utf8'))![1]);
    process.kill(ptgPid, 'SIGUSR2');
    const r = await running;
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "ptg: No space left on device for /ws/.ptg/runs/v1/x/manifest.json: free some space, then run again.\n");
    await waitFor('the agent and its grandchild to be gone', () => !isAlive(agent) && !isAlive(grandchild), 3000);
  });
});

describe('durations', () => {
  test('a timeout over 24 days is refused: Node timers would fire at once', async () => {
    assert.equal(parseDuration('596h', 'timeout'), 596 * 3_600_000);
    assert.equal(parseDuration(`${2 ** 31 - 1}ms`, 'timeout'), 2 ** 31 - 1);
    assert.throws(() => parseDuration('720h', 'timeout'), (e: unknown) => e instanceof PtgError && e.exitCode === EXIT.usage && e.message === 'Timeout 720h is too long: at most 24 days.');
    assert.throws(() => parseDuration(3_000_000, 'timeout'), /^UsageError: Timeout 3000000s is too long: at most 24 days\.$/);
    const r = await ptg(['run', 'v1', '--timeout', '720h'], { cwd: makeRoot(tmpDir()) });
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'ptg: Timeout 720h is too long: at most 24 days.\n');
  });
});
