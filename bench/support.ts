// What every benchmark needs: ptg and other commands run as child processes and measured (wall
// time, peak memory), temporary folders, disk figures, generated repositories and experiment
// roots, and compact tables. Nothing here imports ptg's code: the bench runs the built binary.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fs from 'fs-extra';

export const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PTG_BIN = path.join(PROJECT, 'bin', 'ptg.js');
export const FAKE_AGENT = path.join(PROJECT, 'test', 'support', 'fake-agent.mjs');
const RSS_HOOK = pathToFileURL(path.join(PROJECT, 'bench', 'rss-hook.mjs')).href;
/** The arguments ptg passes to every agent: the bash baselines pass the same. */
export const AGENT_ARGS = ['-p', '--dangerously-skip-permissions', '--output-format', 'stream-json', '--verbose'];

/** GNU time, when it is there and understands `-f %M`. */
export const TIME_BIN: string | undefined = (() => {
  try {
    execFileSync('/usr/bin/time', ['-f', '%M', 'true'], { stdio: 'pipe' });
    return '/usr/bin/time';
  } catch {
    return undefined;
  }
})();

// ---------------------------------------------------------------- temporary folders and children

const tempDirs = new Set<string>();
const liveGroups = new Set<number>();

/** A new folder under os.tmpdir(), removed by `cleanUp()`. */
export function tmpDir(prefix = 'ptg-bench-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  fs.removeSync(dir);
  tempDirs.delete(dir);
}

/** Ends what the bench started (by process group) and removes its folders. Safe to call twice. */
export function cleanUp(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  liveGroups.clear();
  for (const dir of tempDirs) fs.removeSync(dir);
  tempDirs.clear();
}

// ---------------------------------------------------------------- measured processes

export interface Measured {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  stdout: string;
  stderr: string;
  /** /usr/bin/time %M: the peak of the process and of any child it waited for, KB. */
  treePeakKb?: number;
  /** /usr/bin/time %U + %S: CPU of the process and of the children it waited for, ms. */
  cpuMs?: number;
  /** CPU the whole machine spent meanwhile (machineBusyMs), ms: the kernel's work for processes included. */
  busyMs?: number;
  /** The ptg process's own peak (getrusage RUSAGE_SELF through bench/rss-hook.mjs), KB. */
  selfPeakKb?: number;
  /** The bench ended it: it ran past its time limit. */
  timedOut: boolean;
}

export interface MeasureOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Ends the whole process group after this long (default 10 minutes). */
  timeoutMs?: number;
}

/** Runs argv in its own process group, under /usr/bin/time when present; times it from spawn to exit. */
export function measure(argv: string[], opts: MeasureOptions): Promise<Measured> {
  const timeFile = TIME_BIN ? path.join(os.tmpdir(), `ptg-bench-time-${process.pid}-${randomBytes(4).toString('hex')}`) : undefined;
  const full = TIME_BIN ? [TIME_BIN, '-f', '%M %U %S', '-o', timeFile!, ...argv] : argv;
  return new Promise((resolve, reject) => {
    const busyBefore = machineBusyMs();
    const started = performance.now();
    const child = spawn(full[0]!, full.slice(1), {
      cwd: opts.cwd,
      env: { ...process.env, NO_COLOR: '1', CI: 'true', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const pgid = child.pid;
    if (pgid) liveGroups.add(pgid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-200_000)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-200_000)));
    let timedOut = false;
    const limit = setTimeout(() => {
      timedOut = true;
      stderr += `\n[bench] timed out after ${opts.timeoutMs ?? 600_000} ms: killed\n`;
      if (pgid) killGroup(pgid);
    }, opts.timeoutMs ?? 600_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const wallMs = performance.now() - started;
      const busyAfter = machineBusyMs();
      const busyMs = busyBefore === undefined || busyAfter === undefined ? undefined : busyAfter - busyBefore;
      clearTimeout(limit);
      if (pgid) liveGroups.delete(pgid);
      let treePeakKb: number | undefined;
      let cpuMs: number | undefined;
      if (timeFile) {
        const text = fs.readFileSync(timeFile, 'utf8').trim().split('\n');
        fs.removeSync(timeFile);
        // With a non-zero exit GNU time writes "Command exited with non-zero status N" first.
        const [kb, user, sys] = (text.at(-1) ?? '').split(' ').map(Number);
        if (Number.isFinite(kb)) treePeakKb = kb;
        if (Number.isFinite(user) && Number.isFinite(sys)) cpuMs = (user! + sys!) * 1000;
      }
      resolve({ code, signal, wallMs, stdout, stderr, treePeakKb, cpuMs, busyMs, timedOut });
    });
  });
}

/**
 * CPU time the machine has spent since boot (user, nice, system, interrupts, steal), ms, from the
 * first line of /proc/stat (in USER_HZ, 100 per second on Linux). Unlike getrusage it counts the
 * kernel's work that no waited-for process is charged with (namespaces torn down, for one).
 * Undefined without /proc.
 */
function machineBusyMs(): number | undefined {
  try {
    const [user, nice, system, , , irq, softirq, steal] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return (user! + nice! + system! + irq! + softirq! + steal!) * 10;
  } catch {
    return undefined;
  }
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGTERM');
  } catch {
    return;
  }
  setTimeout(() => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }, 5000).unref();
}

/** Node warnings ptg printed on stderr (a user would see them), for the bench to report. */
export const ptgWarnings = new Set<string>();

/** Runs `node bin/ptg.js ...args` as a user would (IS_SANDBOX=1: we are root), measured. */
export async function ptg(args: string[], opts: MeasureOptions): Promise<Measured> {
  const rssFile = path.join(os.tmpdir(), `ptg-bench-rss-${process.pid}-${randomBytes(4).toString('hex')}`);
  const result = await measure([process.execPath, '--import', RSS_HOOK, PTG_BIN, ...args], {
    ...opts,
    env: { IS_SANDBOX: '1', ...opts.env, PTG_BENCH_RSS_FILE: rssFile },
  });
  for (const line of result.stderr.split('\n')) if (/Warning:/.test(line)) ptgWarnings.add(line.replace(/^\(node:\d+\) /, '').trim());
  if (await fs.pathExists(rssFile)) {
    result.selfPeakKb = Number(await fs.readFile(rssFile, 'utf8'));
    await fs.remove(rssFile);
  }
  return result;
}

/**
 * Like `ptg`, but throws with ptg's output when it does not exit 0. A ptg ended by a signal the
 * bench did not send (the machine is shared: someone else's kill) is run once more, and said so.
 */
export async function ptgOk(args: string[], opts: MeasureOptions & { log?: (line: string) => void }): Promise<Measured> {
  for (let attempt = 1; ; attempt++) {
    const r = await ptg(args, opts);
    if (r.code === 0) return r;
    const killed = !r.timedOut && (r.signal !== null || /^(SIGTERM|SIGINT|SIGHUP): stopping/m.test(r.stderr));
    if (killed && attempt === 1) {
      const why = r.signal ?? /^(SIG\w+): stopping/m.exec(r.stderr)?.[1];
      (opts.log ?? console.log)(`[bench] ptg ${args[0]} was ended by ${why}, which the bench did not send: measuring again`);
      continue;
    }
    throw new Error(`ptg ${args.join(' ')} exited with ${r.code ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  }
}

/** A bash script, measured; throws on a non-zero exit. */
export async function bash(script: string, opts: MeasureOptions): Promise<Measured> {
  const r = await measure(['bash', '-c', script], opts);
  if (r.code !== 0) throw new Error(`bash script exited with ${r.code ?? r.signal}:\n${script}\n${r.stderr}`);
  return r;
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=bench@ptg', '-c', 'user.name=ptg bench', ...args], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  }).trim();
}

/** The run id printed in `ptg collect <version> <run-id>`. */
export function runIdOf(stdout: string): string {
  const match = /ptg collect \S+ (\S+)/.exec(stdout);
  if (!match) throw new Error(`no run id in ptg's output:\n${stdout}`);
  return match[1]!;
}

/** True when this ptg build has `ptg collect`. */
export async function hasCollect(cwd: string): Promise<boolean> {
  const r = await ptg(['collect', '--help'], { cwd, timeoutMs: 30_000 });
  return r.code === 0 && /Usage: ptg collect/.test(r.stdout);
}

// ---------------------------------------------------------------- disk

/** Real disk use in KB: `du -sk` counts a hard-linked file once per invocation. */
export function duKb(...dirs: string[]): number {
  const out = execFileSync('du', ['-skc', ...dirs], { encoding: 'utf8' }).trim().split('\n');
  return Number(out.at(-1)!.split('\t')[0]);
}

/** Free space of the file system holding `dir`, KB. */
export function freeKb(dir: string): number {
  const out = execFileSync('df', ['-Pk', dir], { encoding: 'utf8' }).trim().split('\n');
  return Number(out.at(-1)!.trim().split(/\s+/)[3]);
}

export function fileSizes(files: string[]): number {
  return files.reduce((sum, f) => sum + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0);
}

// ---------------------------------------------------------------- repositories and roots

/** mulberry32: the same "random" text on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = 'vm vmi migration snapshot storage network node pod namespace virt launcher assert fixture timeout wait status running ready cluster label annotation disk volume cdi datavolume template'.split(' ');

function pythonText(rand: () => number, bytes: number): string {
  let out = 'import pytest\n\nfrom utilities.virt import VirtualMachineForTests\n\n';
  let n = 0;
  while (out.length < bytes) {
    const w = () => WORDS[Math.floor(rand() * WORDS.length)]!;
    out += `\n@pytest.mark.${w()}\ndef test_${w()}_${w()}_${n++}(${w()}_${w()}, ${w()}):\n    assert ${w()}_${w()}.${w()}(timeout=${Math.floor(rand() * 600)}) == "${w()}"\n`;
  }
  return out;
}

export interface BigRepo {
  /** file:// URL of the bare upstream. */
  url: string;
  bare: string;
  files: number;
  workTreeBytes: number;
  commits: number;
}

/**
 * A bare upstream of about `mb` MB and `files` files in three commits: mostly small Python files
 * (compress well) and some incompressible blobs (random bytes, as images and tarballs are).
 * `packed: false` leaves its objects loose, so that every clone makes a pack (about a second of
 * CPU here): the stand-in for a transfer that costs something, as a network does.
 */
export function makeBigRepo(dir: string, opts: { files?: number; mb?: number; packed?: boolean } = {}): BigRepo {
  const files = opts.files ?? 1000;
  const totalBytes = (opts.mb ?? 20) * 1024 * 1024;
  const binaries = Math.round(files / 10);
  const texts = files - binaries;
  // Three quarters of the bytes incompressible, the rest text.
  const binaryBytes = Math.floor((totalBytes * 0.75) / binaries);
  const textBytes = Math.floor((totalBytes * 0.25) / texts);
  const rand = prng(42);
  const work = path.join(dir, 'big-work');
  fs.ensureDirSync(work);
  git(work, 'init', '-q', '-b', 'main');
  const textPath = (i: number) => `tests/area_${i % 25}/test_feature_${i}.py`;
  const binPath = (i: number) => `assets/blob_${i}.bin`;
  const write = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      if (i < texts) fs.outputFileSync(path.join(work, textPath(i)), pythonText(rand, textBytes * (0.5 + rand())));
      else fs.outputFileSync(path.join(work, binPath(i - texts)), randomBytes(binaryBytes));
    }
  };
  // Commit 1: 80% of the files; commit 2: the rest; commit 3: 5% of the text files changed.
  const firstText = Math.floor(texts * 0.8);
  const firstBin = Math.floor(binaries * 0.8);
  write(0, firstText);
  write(texts, texts + firstBin);
  fs.outputFileSync(path.join(work, 'README.md'), '# a generated target repository\n');
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'first');
  write(firstText, texts);
  write(texts + firstBin, files);
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'second');
  for (let i = 0; i < texts; i += 20) fs.appendFileSync(path.join(work, textPath(i)), pythonText(rand, 2000));
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'third');
  const bare = path.join(dir, 'big.git');
  git(dir, 'clone', '-q', '--bare', work, bare);
  // A hosting server keeps its objects packed: serving a clone is then mostly copying the pack.
  if (opts.packed ?? true) git(bare, 'repack', '-adq');
  const workTreeBytes = Number(execFileSync('du', ['-sb', '--exclude=.git', work], { encoding: 'utf8' }).split('\t')[0]);
  fs.removeSync(work);
  return { url: pathToFileURL(bare).href, bare, files: files + 1, workTreeBytes, commits: 3 };
}

/** A tiny bare upstream (a README and a tests/ tree): runs measure ptg, not git on a big tree. */
export function makeSmallRepo(dir: string): string {
  const work = path.join(dir, 'small-work');
  fs.ensureDirSync(work);
  git(work, 'init', '-q', '-b', 'main');
  const files: Record<string, string> = {
    'README.md': '# target\n',
    'tests/__init__.py': '',
    'tests/conftest.py': 'import pytest\n',
    'tests/virt/test_existing.py': 'def test_existing():\n    assert True\n',
    'utilities/helpers.py': 'def helper() -> int:\n    return 1\n',
  };
  for (const [file, text] of Object.entries(files)) fs.outputFileSync(path.join(work, file), text);
  git(work, 'add', '.');
  git(work, 'commit', '-qm', 'initial');
  const bare = path.join(dir, 'upstream.git');
  git(dir, 'clone', '-q', '--bare', work, bare);
  fs.removeSync(work);
  return bare;
}

/** An experiment root: `count` STPs (each with `stpText(id)`) and a monolithic v1. */
export function makeRoot(dir: string, count: number, stpText: (id: string) => string = (id) => `# STP ${id}\n`): string {
  const root = path.join(dir, 'root');
  for (let i = 1; i <= count; i++) fs.outputFileSync(path.join(root, 'stps', `${i}.md`), stpText(String(i)));
  fs.outputFileSync(path.join(root, 'v1', 'prompt.md'), 'Write pytest tests for this plan:\n${STP_CONTENT}\n');
  return root;
}

/**
 * The bash way of running agents (run_parallel.sh): each agent started in the background in its
 * slot `<ws>/<id>-<repoName>`, prompt on stdin, output to `<out>/<id>.jsonl`, `stagger` seconds
 * apart, then `wait`. With `parallel`, `xargs -P` runs them instead, at most that many at once.
 */
export function bashAgents(opts: { ws: string; repoName: string; root: string; count: number; out: string; stagger?: number; parallel?: number }): {
  script: string;
  env: NodeJS.ProcessEnv;
} {
  const env = { WS: opts.ws, NAME: opts.repoName, ROOT: opts.root, OUT: opts.out, AGENT: FAKE_AGENT, AGENT_ARGS: AGENT_ARGS.join(' ') };
  const one = `one() { cd "$WS/$1-$NAME" && printf 'Write tests.\\nSTP File: %s\\n' "$ROOT/stps/$1.md" | "$AGENT" $AGENT_ARGS > "$OUT/$1.jsonl" 2>&1; }`;
  const body = opts.parallel
    ? `export -f one\nseq 1 ${opts.count} | xargs -P ${opts.parallel} -I{} bash -c 'one {}'`
    : `for id in $(seq 1 ${opts.count}); do\n  [ "$id" = 1 ] || sleep ${opts.stagger ?? 0}\n  one "$id" &\ndone\nwait`;
  return { script: `set -e\nmkdir -p "$OUT"\n${one}\n${body}\n`, env };
}

// ---------------------------------------------------------------- numbers and tables

/** Median of a[i] / b[i]: each repetition's ratio, so a slow spell of the machine hits both sides. */
export function medianRatio(a: number[], b: number[]): number {
  return median(a.map((v, i) => v / b[i]!));
}

/** Writes dirty pages out, so the files a step made are not flushed during the next step's timing. */
export function settle(): void {
  execFileSync('sync');
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const fmt = {
  s: (ms: number) => `${(ms / 1000).toFixed(2)} s`,
  mb: (kb: number | undefined) => (kb === undefined ? '?' : `${(kb / 1024).toFixed(1)} MB`),
  x: (ratio: number) => `${ratio.toFixed(2)}×`,
  rate: (bytes: number, ms: number) => `${(bytes / 1024 / 1024 / (ms / 1000)).toFixed(0)} MB/s`,
};

/** A table with a header row and columns padded to their widest cell: the first to the left, the rest to the right unless `left`. */
export function table(header: string[], rows: string[][], left = false): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((cell, i) => (i === 0 || left ? (cell ?? '').padEnd(widths[i]!) : (cell ?? '').padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

// ---------------------------------------------------------------- benchmarks

/** One line of the final summary: INFO has no goal to meet, SKIP was not measured. */
export interface Goal {
  name: string;
  measured: string;
  goal: string;
  verdict: 'PASS' | 'MISS' | 'INFO' | 'SKIP';
}

export function goal(name: string, measured: string, target: string, pass: boolean): Goal {
  return { name, measured, goal: target, verdict: pass ? 'PASS' : 'MISS' };
}

export interface BenchContext {
  /** Repetitions of each timed step; medians are reported. */
  reps: number;
  log(line?: string): void;
}

export interface Benchmark {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<Goal[]>;
}

/** The experiment folders of a workspace: `experiments/<version>_experiment_<run-id>[…]/<slot>/`, for run ids starting with `runId`. */
export function experimentDirs(ws: string, version: string, runId = ''): string[] {
  const base = path.join(ws, 'experiments');
  if (!fs.existsSync(base)) return [];
  return fs
    .readdirSync(base)
    .filter((n) => n.startsWith(`${version}_experiment_${runId}`))
    .flatMap((run) => fs.readdirSync(path.join(base, run)).map((slot) => path.join(base, run, slot)));
}
