// Real git repositories and experiment roots in temporary folders, for the tests.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { after } from 'node:test';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'fs-extra';

export const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PTG_BIN = path.join(PROJECT, 'bin', 'ptg.js');
export const FAKE_AGENT = path.join(PROJECT, 'test', 'support', 'fake-agent.mjs');

export function tmpDir(prefix = 'ptg-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=test@ptg', '-c', 'user.name=ptg test', ...args], { cwd, encoding: 'utf8' }).trim();
}

/** A bare upstream repository with a couple of commits and a tests/ tree; returns its path. */
export function makeUpstream(dir: string, files: Record<string, string> = {}): string {
  const work = path.join(dir, 'upstream-work');
  const bare = path.join(dir, 'upstream.git');
  fs.ensureDirSync(work);
  git(work, 'init', '-q', '-b', 'main');
  const initial: Record<string, string> = {
    'README.md': '# target\n',
    'tests/__init__.py': '',
    'tests/conftest.py': 'import pytest\n',
    'tests/virt/test_existing.py': 'def test_existing():\n    assert True\n',
    'utilities/helpers.py': 'def helper() -> int:\n    return 1\n',
    ...files,
  };
  for (const [file, text] of Object.entries(initial)) fs.outputFileSync(path.join(work, file), text);
  git(work, 'add', '.');
  git(work, 'commit', '-qm', 'initial');
  fs.outputFileSync(path.join(work, 'docs.md'), 'second commit\n');
  git(work, 'add', '.');
  git(work, 'commit', '-qm', 'second');
  git(dir, 'clone', '-q', '--bare', work, bare);
  return bare;
}

/** Adds a commit to a bare upstream; returns the new commit id. */
export function pushCommit(bare: string, file: string, text: string): string {
  const work = tmpDir('ptg-push-');
  git(work, 'clone', '-q', bare, '.');
  fs.outputFileSync(path.join(work, file), text);
  git(work, 'add', '.');
  git(work, 'commit', '-qm', `change ${file}`);
  git(work, 'push', '-q', 'origin', 'HEAD:main');
  return git(work, 'rev-parse', 'HEAD');
}

export interface RootOptions {
  stps?: Record<string, string>;
  config?: Record<string, unknown>;
}

/** An experiment root with STPs, a monolithic v1 and an orchestrated v2 with two skills. */
export function makeRoot(dir: string, opts: RootOptions = {}): string {
  const root = path.join(dir, 'root');
  const stps = opts.stps ?? { '1': '# STP 1\nVM reset.\n', '2': '# STP 2\nVM migration.\n', '3': '# STP 3\nSnapshots.\n' };
  for (const [id, text] of Object.entries(stps)) fs.outputFileSync(path.join(root, 'stps', `${id}.md`), text);
  fs.outputFileSync(path.join(root, 'v1', 'prompt.md'), 'Write pytest tests for this plan:\n${STP_CONTENT}\n');
  fs.outputFileSync(path.join(root, 'v2', 'orchestrator.md'), 'Orchestrate for $ARGUMENTS\n');
  fs.outputFileSync(path.join(root, 'v2', 'skills', 'generate-pytest', 'SKILL.md'), '# generate\n');
  fs.outputFileSync(path.join(root, 'v2', 'skills', 'generate-pytest', 'templates', 'test.py.tmpl'), 'def test_x(): ...\n');
  fs.outputFileSync(path.join(root, 'v2', 'skills', 'v2-pyright-heal', 'SKILL.md'), '# heal\n');
  if (opts.config) fs.outputJsonSync(path.join(root, 'ptg.config.json'), opts.config);
  return root;
}

export interface PtgResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

// A test that fails while its ptg still runs must not leave that ptg holding the test file open:
// at the end of each file every ptg it started is killed (the watchdog then ends its agents).
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** Runs the built ptg binary as a user would. */
export function ptg(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; onSpawn?: (pid: number) => void } = {}): Promise<PtgResult> {
  // The fake agent reports to the test through $FAKE_AGENT_RECORD: the sandbox shows it that folder alone.
  const record = opts.env?.FAKE_AGENT_RECORD;
  if (record && ['run', 'verify', 'handoff'].includes(args[0]!)) {
    fs.mkdirSync(record, { recursive: true });
    const end = args.indexOf('--');
    args = end < 0 ? [...args, '--sandbox-rw', record] : [...args.slice(0, end), '--sandbox-rw', record, ...args.slice(end)];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PTG_BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: '1', CI: 'true', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    children.add(child);
    if (child.pid) opts.onSpawn?.(child.pid);
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** An experiment root whose STPs carry fake-agent directives, set up with `ptg setup --no-python`. */
export async function setUpWorkspace(stps: Record<string, string>, config?: Record<string, unknown>, upstreamFiles?: Record<string, string>) {
  const dir = tmpDir();
  const upstream = makeUpstream(dir, upstreamFiles);
  const root = makeRoot(dir, { stps, config });
  const r = await ptg(['setup', '--repo', upstream, '--no-python'], { cwd: root });
  if (r.code !== 0) throw new Error(`setup failed: ${r.stdout}${r.stderr}`);
  const ws = path.join(root, 'parallel');
  return {
    dir,
    root,
    ws,
    upstream,
    slot: (id: string) => path.join(ws, `${id}-upstream`),
    /** Runs `ptg run` with the fake agent. */
    run: (args: string[], opts: Parameters<typeof ptg>[1] = {}) =>
      ptg(['run', ...args, '--agent', FAKE_AGENT], { cwd: root, ...opts, env: { IS_SANDBOX: '1', ...opts.env } }),
    expDir: (id: string, version: string, runId: string) => path.join(ws, 'experiments', `${version}_experiment_${runId}`, `${id}-upstream`),
    /** The experiment folder of STP `id` that has `file` in it, once there is one. */
    findExp: (id: string, file = 'status.json') => findExperiment(ws, id, file),
  };
}

/** The first experiment folder of STP `id` (any version and run) holding `file`. */
export function findExperiment(ws: string, id: string, file = 'status.json'): string | undefined {
  const base = path.join(ws, 'experiments');
  for (const run of fs.existsSync(base) ? fs.readdirSync(base).sort() : []) {
    const dir = path.join(base, run, `${id}-upstream`);
    if (fs.existsSync(path.join(dir, file))) return dir;
  }
  return undefined;
}

/** The run id printed in `Next: ptg collect <version> <run-id>`. */
export function runIdOf(stdout: string): string {
  const match = /ptg collect \S+ (\S+)/.exec(stdout);
  if (!match) throw new Error(`no run id in:\n${stdout}`);
  return match[1]!;
}

/** A process that exists and is not a zombie (a killed process waits a moment to be reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
