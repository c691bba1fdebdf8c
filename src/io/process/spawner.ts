// ptg starts the processes around its agents (the agents, bwrap, the git steps of every record)
// through one small shell of its own rather than with node's spawn. Node forks its whole process
// for every child and waits until the child has exec'd: 6 ms of ptg's CPU per process at 120 MB,
// and 15-30 ms of its event loop each while agents keep both cores busy (measured on a 2-core VM).
// The shell forks for ptg, off its event loop, and dash forks in a fraction of node's time.
//
// A job is a script file in ptg's scratch folder (the command, its folder and its files: what a
// command line shows anyway) and one line on the helper's input: the job's number and its
// environment as differences to the helper's (`unset`, `export`). A secret so never lands on
// disk or in a command line. The helper answers `pid <id> <pid>` and `exit <id> <status>`. Ended
// by closing its input (spawnerDone); it carries the run's marker, so the watchdog ends it and its
// jobs however ptg ends.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { onHelperRelease } from './live-agents.js';
import { MARKER_PREFIX, MARKER_VAR } from './markers.js';

export interface Job {
  command: string;
  args: string[];
  cwd?: string;
  /** The whole environment of the process (ptg's own when unset). */
  env?: NodeJS.ProcessEnv;
  /** Files for its standard input (none: /dev/null), output and error. */
  stdin?: string;
  stdout: string;
  stderr: string;
  /** In a session (and process group) of its own, as node's `detached`. */
  session?: boolean;
}

export interface Started {
  pid: number;
  /** Its exit status as a shell sees it: 128 + n when signal n ended it. */
  exit: Promise<number>;
}

// The script's own lines (`. file`) are read in blocks; `read` takes the short line a byte at a time.
const SCRIPT = [
  // Replies go to fd 3; nothing else of the loop's reaches ptg.
  'exec 3>&1 1>/dev/null',
  // SIGTERM, SIGINT and SIGHUP are ptg's to act on (a closed terminal, Slurm's scancel reach the
  // whole group): the helper and its jobs' shells outlive them until ptg closes the pipe. Caught,
  // not ignored, so the commands they start get them as usual.
  "trap 'signalled=1' TERM INT HUP",
  "nl='",
  "'",
  // A caught signal ends a read early too (dash's read then says 1, as at the end): read on, until the pipe is closed.
  'while :; do',
  '  read -r id vars || { [ -n "$signalled" ] && { signalled=; continue; }; break; }',
  '  ( trap : TERM INT HUP; eval "$vars"; . "$1/$id.sh" ) &',
  'done',
  // The pipe closed: ptg is done with the helper, or gone. Its jobs' shells go with it (they are
  // the parents bubblewrap's --die-with-parent watches, so a sandboxed agent ends at once when ptg
  // is killed); agents in sessions of their own are the watchdog's to end.
  'kill -KILL 0',
].join('\n');

interface Pending {
  started(pid: number): void;
  ended(status: number): void;
  failed(error: Error): void;
}

let helper: ChildProcess | undefined;
let scratch: string | undefined;
let base: NodeJS.ProcessEnv = {};
let jobs = 0;
const pending = new Map<number, Pending>();
let exited: Promise<void> = Promise.resolve();

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A shell word; a newline inside becomes the helper's `$nl`, so the job's line stays one line. */
const quote = (word: string) => `'${word.replaceAll("'", "'\\''").replaceAll('\n', `'"$nl"'`)}'`;

/** Where this ptg's job files go: named by its marker, so the watchdog can remove it after a `kill -9` of ptg. */
export function scratchPath(prefix = MARKER_PREFIX): string {
  return path.join(os.tmpdir(), `ptg-jobs-${prefix.replace(/\/$/, '')}`);
}

/** The folder of this ptg's job files (its own alone: made here, not found), removed as ptg exits; none where it cannot be made. */
function scratchFolder(): string | undefined {
  if (scratch !== undefined) return scratch || undefined;
  const folder = scratchPath();
  try {
    fs.mkdirSync(folder, { mode: 0o700 });
  } catch {
    scratch = '';
    return undefined;
  }
  process.once('exit', () => {
    try {
      fs.rmSync(folder, { recursive: true, force: true });
    } catch {
      // A job's shell was still making its files (ptg ended in the middle of one): the watchdog, or the next boot, clears /tmp.
    }
  });
  return (scratch = folder);
}

/**
 * The shell for this ptg, started with its first job. Its environment is ptg's own and the run's
 * marker, so the watchdog finds it and everything it forks however ptg ends.
 */
function ensureHelper(): ChildProcess {
  if (helper) return helper;
  const folder = scratchFolder()!;
  onHelperRelease(spawnerDone);
  base = { ...process.env, [MARKER_VAR]: `${MARKER_PREFIX}helper` };
  // Its own session: the terminal's Ctrl-C is ptg's to handle, not the helper's.
  const child = spawn('/bin/sh', ['-c', SCRIPT, 'ptg', folder], { env: base, detached: true, stdio: ['pipe', 'pipe', 'ignore'] });
  helper = child;
  exited = new Promise((resolve) => child.once('close', () => resolve()));
  child.on('error', () => undefined);
  child.stdin!.on('error', () => undefined);
  let rest = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const [verb, id, value] = line.split(' ');
      const job = pending.get(Number(id));
      if (!job) continue;
      if (verb === 'pid') job.started(Number(value));
      else if (verb === 'exit') {
        pending.delete(Number(id));
        job.ended(Number(value));
      } else if (verb === 'missing') {
        pending.delete(Number(id));
        job.failed(Object.assign(new Error('spawn ENOENT'), { code: 'ENOENT' }));
      }
    }
    idle();
  });
  child.once('close', () => {
    helper = undefined;
    for (const job of pending.values()) job.failed(new Error('ptg lost its process helper'));
    pending.clear();
    idle();
  });
  idle();
  return child;
}

/** The helper keeps ptg alive only while it has jobs: idle, it must not hold ptg's exit. */
function idle(): void {
  const handles = [helper, helper?.stdout, helper?.stdin] as unknown as ({ ref?(): void; unref?(): void } | undefined)[];
  for (const h of handles) pending.size ? h?.ref?.() : h?.unref?.();
  if (pending.size === 0) for (const resolve of drained.splice(0)) resolve();
}

/** Who waits for the helper to have no job left (spawnerDone). */
const drained: (() => void)[] = [];

let sessionPrefix: string | undefined | null = null;

/**
 * What starts a job in a session of its own with the signal dispositions node's spawn gives: util-
 * linux's setsid, then coreutils' env restoring SIGINT and SIGQUIT, which a shell ignores in what
 * it starts with `&` (an agent's tools would inherit that). Undefined where either is missing
 * (env --default-signal is coreutils 8.31+): such jobs start with node's spawn.
 */
function sessionStart(): string | undefined {
  if (sessionPrefix !== null) return sessionPrefix;
  const setsid = ['/usr/bin/setsid', '/bin/setsid'].find((file) => fs.existsSync(file));
  const env = ['/usr/bin/env', '/bin/env'].find((file) => fs.existsSync(file));
  const restores = env && spawnSync(env, ['--default-signal=INT,QUIT', 'true'], { stdio: 'ignore' }).status === 0;
  return (sessionPrefix = setsid && restores ? `${setsid} -w ${env} --default-signal=INT,QUIT` : undefined);
}

/** Whether `job` can go through the helper: every variable of its environment has a name a shell can set, a session can be given if it needs one, and the job files have a folder. */
export function canSpawn(job: Pick<Job, 'env' | 'session'>): boolean {
  return process.platform === 'linux' && (!job.session || Boolean(sessionStart())) && Object.keys(job.env ?? {}).every((name) => NAME.test(name)) && Boolean(scratchFolder());
}

/** The shell commands that give the job's process its environment, from the helper's. */
function envOf(env: NodeJS.ProcessEnv): string {
  const unset = Object.keys(base).filter((name) => env[name] === undefined && NAME.test(name));
  const set = Object.entries(env).filter(([name, value]) => value !== undefined && base[name] !== value);
  return [...(unset.length ? [`unset ${unset.join(' ')}`] : []), ...set.map(([name, value]) => `export ${name}=${quote(value!)}`)].join('; ');
}

/** Starts `job` through the helper: resolves once it runs, with its pid and its exit. Rejects with code ENOENT when its command or folder is not there. */
export async function spawnJob(job: Job): Promise<Started> {
  const id = ++jobs;
  const argv = [job.command, ...job.args].map(quote).join(' ');
  const file = path.join(scratchFolder()!, `${id}.sh`);
  await fs.promises.writeFile(
    file,
    [
      ...(job.cwd ? [`cd -- ${quote(job.cwd)} || { echo "missing ${id}" >&3; exit; }`] : []),
      `command -v -- ${quote(job.command)} > /dev/null || { echo "missing ${id}" >&3; exit; }`,
      // setsid -w: a session of its own, and the command's status even if setsid had to fork.
      `${job.session ? `${sessionStart()} ` : ''}${argv} < ${quote(job.stdin ?? '/dev/null')} > ${quote(job.stdout)} 2> ${quote(job.stderr)} 3>&- &`,
      `pid=$!; echo "pid ${id} $pid" >&3`,
      // A caught signal ends a wait early, with the child still there: wait again until it has gone.
      'while :; do wait $pid; status=$?; [ $status -gt 128 ] && kill -0 $pid 2>/dev/null || break; done',
      `echo "exit ${id} $status" >&3`,
      '',
    ].join('\n'),
  );
  const child = ensureHelper();
  return new Promise((resolve, reject) => {
    let ended!: (status: number) => void;
    let failed!: (error: Error) => void;
    const exit = new Promise<number>((res, rej) => ((ended = res), (failed = rej)));
    exit.catch(() => undefined);
    let running = false;
    pending.set(id, {
      started: (pid) => {
        running = true;
        void fs.promises.unlink(file).catch(() => undefined);
        resolve({ pid, exit });
      },
      ended: (status) => ended(status),
      failed: (error) => {
        void fs.promises.unlink(file).catch(() => undefined);
        (running ? failed : reject)(error);
      },
    });
    idle();
    child.stdin!.write(`${id} ${envOf(job.env ?? process.env)}\n`);
  });
}

let outputs = 0;

/** Runs a short command through the helper: its status and what it printed, read back from files in the scratch folder. */
export async function runJob(job: Omit<Job, 'stdout' | 'stderr'>): Promise<{ status: number; stdout: string; stderr: string }> {
  const name = path.join(scratchFolder()!, `out-${++outputs}`);
  const [stdout, stderr] = [`${name}.out`, `${name}.err`];
  try {
    const status = await (await spawnJob({ ...job, stdout, stderr })).exit;
    return { status, stdout: await fs.promises.readFile(stdout, 'utf8'), stderr: await fs.promises.readFile(stderr, 'utf8').catch(() => '') };
  } finally {
    await Promise.all([stdout, stderr].map((file) => fs.promises.unlink(file).catch(() => undefined)));
  }
}

/**
 * Ends the helper and waits until it has gone. Called when every agent has ended: a job still
 * running is a short one (a git step of an experiment that failed meanwhile, bubblewrap's probe
 * of a refused run), and it finishes first, for 10 s at most, so that nothing of ptg's outlives it.
 */
export async function spawnerDone(): Promise<void> {
  if (helper && pending.size) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise<void>((resolve) => drained.push(resolve)), new Promise<void>((resolve) => (timer = setTimeout(resolve, 10_000)))]);
    clearTimeout(timer);
  }
  if (!helper) return;
  // Held until its output closes: a job's shell that has just answered may still hold it.
  helper.ref();
  (helper.stdout as unknown as { ref(): void }).ref();
  helper.stdin!.end();
  await exited;
}
