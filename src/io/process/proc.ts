// The one place ptg starts processes (git aside, in io/git.ts). Agents run in their own process
// group so a timeout or Ctrl-C can end the agent together with every shell and tool it started.
// Agents and the short commands start with node's own spawn: an agent's output goes to raw file
// descriptors, so execa's streams had nothing to do, and loading execa cost every run 80 ms of the
// main thread while its agents started and ended (measured: `node -e "import('execa')"`).
import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import { constants as fsConstants } from 'node:fs';
import path from 'node:path';
import fs from 'fs-extra';
import { addAgent, deleteAgent, killAllAgents, killGroup, onWatchdogRelease } from './live-agents.js';
import { killMarked, MARKER_PREFIX, MARKER_VAR } from './markers.js';
import { canSpawn, scratchPath, spawnJob } from './spawner.js';
import { WATCHDOG } from './watchdog.js';

/** Absolute path of an executable: `cmd` itself when it holds a `/`, else the first match on PATH. */
export async function which(cmd: string, envPath = process.env.PATH ?? '', cwd = process.cwd()): Promise<string | undefined> {
  const candidates = cmd.includes('/') ? [path.resolve(cwd, cmd)] : envPath.split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, cmd));
  for (const file of candidates) {
    try {
      await fs.access(file, fsConstants.X_OK);
      if ((await fs.stat(file)).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface CommandResult {
  ok: boolean;
  exitCode?: number;
  output: string;
  /** One line: why it failed. */
  reason?: string;
}

/**
 * Runs a short command (version checks, Python setup) and keeps its output (stdout and stderr as
 * they come), at most `maxOutput` characters. `env` is added to ptg's own, as execa does.
 */
export function runCommand(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string | undefined>; shell?: boolean; timeoutMs?: number; maxOutput?: number } = {},
): Promise<CommandResult> {
  const maxOutput = opts.maxOutput ?? 10_000_000;
  return new Promise((resolve) => {
    let output = '';
    let timedOut = false;
    let settled = false;
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env && { ...process.env, ...opts.env }, shell: opts.shell, stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (chunk: string) => {
      if (output.length < maxOutput) output += chunk.slice(0, maxOutput - output.length);
    };
    child.stdout!.setEncoding('utf8').on('data', take);
    child.stderr!.setEncoding('utf8').on('data', take);
    const timer = opts.timeoutMs ? setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), opts.timeoutMs) : undefined;
    const done = (result: CommandResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    child.once('error', (error: NodeJS.ErrnoException) => done({ ok: false, output: '', reason: error.code === 'ENOENT' ? `${cmd} not found` : `${cmd}: ${error.message}` }));
    child.once('close', (code, signal) => {
      const text = output.trim();
      if (code === 0 && !timedOut) return done({ ok: true, exitCode: 0, output: text });
      const last = text.split('\n').filter(Boolean).at(-1);
      const reason = timedOut ? `${cmd} timed out` : `\`${[cmd, ...args].join(' ')}\` exited with ${code ?? signal}${last ? `: ${last}` : ''}`;
      done({ ok: false, exitCode: code ?? undefined, output: text, reason });
    });
  });
}

export type StopReason = 'timeout' | 'idle' | 'interrupt' | 'after_result' | 'error';

export interface AgentExit {
  exitCode?: number;
  signal?: string;
  /** Why ptg ended it, if it did. */
  stoppedFor?: StopReason;
  /** The agent could not be started at all. */
  spawnError?: string;
}

export interface AgentHandle {
  pid?: number;
  /** The value of PTG_MARKER in its environment. */
  marker: string;
  exit: Promise<AgentExit>;
  /** Ends the whole process tree: SIGTERM, then SIGKILL after `graceMs`. Safe to call twice. */
  stop(reason: StopReason, graceMs?: number): void;
}

export { MARKER_PREFIX };
let agentsStarted = 0;
let watchdog: ChildProcess | undefined;

/**
 * One watchdog per ptg process, started with its first agent: it ends every agent tree when
 * ptg's end of the pipe closes, however ptg ended (see io/process/watchdog.ts).
 */
function ensureWatchdog(): ChildProcess {
  if (watchdog) return watchdog;
  process.on('exit', () => killAllAgents('SIGKILL'));
  const child = spawn('/bin/sh', ['-c', WATCHDOG, 'ptg-watchdog', MARKER_PREFIX, scratchPath()], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog = child;
  child.on('error', () => undefined);
  child.stdin!.on('error', () => undefined);
  child.unref();
  (child.stdin as unknown as { unref?(): void }).unref?.();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()).once('error', () => resolve()));
  onWatchdogRelease(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // Held open until it has gone: an unref'd child would not keep ptg waiting for it.
    child.ref();
    child.stdin!.end('done\n');
    await exited;
  });
  return child;
}

/**
 * Readies what starting an agent needs, so that it is not done while the first one waits: the
 * watchdog, and the probe that says whether agents can start through the process helper.
 */
export function prepareAgentStart(): void {
  ensureWatchdog();
  canSpawn({ session: true });
}

function tellWatchdog(line: string): void {
  ensureWatchdog().stdin!.write(`${line}\n`);
}

export interface AgentOptions {
  command: string;
  args: string[];
  cwd: string;
  /** Written to the agent's standard input, then closed. */
  input: string;
  /** A file holding `input`: the agent reads it as its standard input. */
  inputFile?: string;
  /**
   * A regular file, not a pipe: some Claude Code versions lose output written to a pipe.
   * ptg follows the file for live progress.
   */
  stdoutFile: string;
  stderrFile: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /**
   * The command is bwrap with its own PID namespace: once it has exited, the kernel has ended
   * everything the agent started (a namespace ends with its first process), daemons included, so
   * no search of /proc for its marker is needed then.
   */
  pidNamespace?: boolean;
}

/**
 * Starts an agent in its own process group with its output going straight to files, marked
 * (MARKER_PREFIX) and watched, so that neither it nor anything it starts outlives ptg. Through
 * ptg's process helper (io/process/spawner.ts) when it can: its prompt then comes from
 * `inputFile` (or none, with an empty `input`).
 */
export async function startAgent(opts: AgentOptions): Promise<AgentHandle> {
  const marker = `${MARKER_PREFIX}${++agentsStarted}`;
  const env = { ...opts.env, [MARKER_VAR]: marker };
  // Readable by the user alone: until ptg masks them after the agent ends, they may hold a secret.
  for (const file of [opts.stdoutFile, opts.stderrFile]) fs.closeSync(fs.openSync(file, 'w', 0o600));
  const job = { command: opts.command, args: opts.args, cwd: opts.cwd, env, stdin: opts.inputFile, stdout: opts.stdoutFile, stderr: opts.stderrFile, session: true };
  if ((opts.inputFile || !opts.input) && canSpawn(job)) {
    ensureWatchdog();
    const started = await spawnJob(job).catch((error: NodeJS.ErrnoException) => error);
    if (started instanceof Error) return watchAgent({ ended: Promise.resolve({ code: null, signal: null, error: started }) }, marker, undefined, opts, () => undefined);
    const ended = started.exit.then(
      (status) => (status > 128 ? { code: null, signal: signalName(status - 128), error: undefined } : { code: status, signal: null }),
      (error: Error) => ({ code: null, signal: null, error }),
    );
    return agentIn(started.pid, ended, marker, opts);
  }
  // Raw descriptors, so the agent writes to the file itself: a pipe through ptg is what loses
  // output in Claude Code 2.1.197.
  const stdout = fs.openSync(opts.stdoutFile, 'w');
  const stderr = fs.openSync(opts.stderrFile, 'w');
  let child: ChildProcess;
  try {
    child = spawn(opts.command, opts.args, { cwd: opts.cwd, env, stdio: ['pipe', stdout, stderr], detached: true });
  } finally {
    fs.closeSync(stdout);
    fs.closeSync(stderr);
  }
  // An agent that exits without reading its prompt closes the pipe: not ptg's error.
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(opts.input);
  return agentIn(child.pid, endOf(child), marker, opts);
}

type Ended = Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: NodeJS.ErrnoException }>;

function endOf(child: ChildProcess): Ended {
  return new Promise((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** An agent in a group of its own (`pid`), told to the watchdog and watched. */
function agentIn(pid: number | undefined, ended: Ended, marker: string, opts: AgentOptions): AgentHandle {
  if (pid) tellWatchdog(`group ${pid}`);
  return watchAgent({ pid, ended }, marker, pid, opts, (signal, exited) => {
    killGroup(pid!, signal);
    if (!(exited && opts.pidNamespace)) killMarked(marker, signal, true);
  });
}

function signalName(n: number): NodeJS.Signals | null {
  return (Object.entries(os.constants.signals).find(([, value]) => value === n)?.[0] as NodeJS.Signals | undefined) ?? null;
}

/**
 * Starts an agent that owns the terminal (`ptg handoff`): its standard input, output and error
 * are ptg's, and it stays in ptg's process group, the terminal's foreground one, since a process
 * outside it is stopped (SIGTTIN) as soon as it reads the keyboard. The terminal's Ctrl-C so
 * reaches it directly. Marked and watched like every agent: neither it nor anything it starts
 * outlives ptg (the marker finds them, where a run's agents also have a group of their own).
 */
export function startForegroundAgent(opts: Omit<AgentOptions, 'input' | 'stdoutFile' | 'stderrFile'>): AgentHandle {
  const marker = `${MARKER_PREFIX}${++agentsStarted}`;
  const child = spawn(opts.command, opts.args, { cwd: opts.cwd, env: { ...opts.env, [MARKER_VAR]: marker }, stdio: 'inherit' });
  // Any line starts the watchdog; it ends every process carrying this ptg's marker prefix.
  if (child.pid) tellWatchdog(`agent ${child.pid}`);
  return watchAgent({ pid: child.pid, ended: endOf(child) }, marker, undefined, opts, (signal) => {
    // Not once it has exited: its pid is free for another process by then.
    if (child.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, signal);
      } catch {
        // gone
      }
    }
    killMarked(marker, signal, true);
  });
}

/** Follows a started agent to its end: the stop, timeout and clean-up every agent gets; `kill` signals it and all it started. */
function watchAgent(child: { pid?: number; ended: Ended }, marker: string, pgid: number | undefined, opts: Pick<AgentOptions, 'command' | 'timeoutMs'>, kill: (signal: NodeJS.Signals, exited?: boolean) => void): AgentHandle {
  if (child.pid) addAgent(pgid, marker);
  const { ended } = child;

  let stoppedFor: AgentExit['stoppedFor'];
  let killTimer: NodeJS.Timeout | undefined;
  const stop = (reason: StopReason, graceMs = 5000) => {
    if (stoppedFor || !child.pid) return;
    stoppedFor = reason;
    kill('SIGTERM');
    killTimer = setTimeout(() => kill('SIGKILL'), graceMs);
  };
  const timeoutTimer = opts.timeoutMs ? setTimeout(() => stop('timeout'), opts.timeoutMs) : undefined;

  const exit = ended.then((result) => {
    clearTimeout(timeoutTimer);
    clearTimeout(killTimer);
    // The agent is gone; whatever it started goes too: a test server, a sleeping shell, a
    // daemon that left the group.
    if (child.pid) {
      kill('SIGKILL', true);
      deleteAgent(pgid, marker);
      if (pgid) tellWatchdog(`ended ${pgid}`);
    }
    if (!child.pid || result.error) return { spawnError: `cannot start ${opts.command}: ${result.error?.code ?? result.error?.message ?? 'no process'}` };
    return { exitCode: result.code ?? undefined, signal: result.signal ?? undefined, stoppedFor };
  });
  return { pid: child.pid, marker, exit, stop };
}
