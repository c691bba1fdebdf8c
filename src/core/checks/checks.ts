// core/checks/ — imports from core/root, core/workspace, core/agent, core/setup (and io/); imported by core/run, core/reports, render/, commands/. The order of core's folders: docs/architecture.md.
// Checks: named verdicts on what an agent wrote, run in its slot once it has ended. pyright is
// built in (and stays the default), so is pytest-collect; a user check is a shell command with
// `{files}` for the changed Python files, judged by its exit status, with an optional count
// parsed from its output. Each check's output is kept in `checks/` of the experiment folder.
import os from 'node:os';
import path from 'node:path';
import fs from 'fs-extra';
import { writeJsonAtomic } from '../../io/files.js';
import { startAgent } from '../../io/process/proc.js';
import { checkPython } from '../../io/pyright.js';
import { unwrapExit } from '../../io/process/sandbox.js';
import { type Better, type CheckResult, type CheckResults, defaultBetter } from '../workspace/check-results.js';
import { parseDuration } from '../root/duration.js';
import type { Wrap } from '../agent/sandbox.js';

/** A check as ptg.config.json gives it: a built-in's name (or `{ name, timeout }`), or a command of the user's. */
export type CheckConfig = string | { name: string; run?: string; count?: string; timeout?: string | number; better?: Better };

export interface CheckSpec {
  name: string;
  builtin?: 'pyright' | 'pytest-collect';
  run?: string;
  /** A named parser (`json-length`, `pyright`, `ruff`, `pytest`) or a regex with one group. */
  count?: string;
  /** How long it may take before it is ended, and then did not pass. */
  timeoutMs: number;
  better: Better;
}

export const BUILTIN_CHECKS = ['pyright', 'pytest-collect'] as const;
export const COUNT_PARSERS = ['json-length', 'pyright', 'ruff', 'pytest'] as const;
export const DEFAULT_CHECKS: CheckConfig[] = ['pyright'];
export const CHECKS_DIR = 'checks';

/** A check may take this long unless its `timeout` says otherwise. */
export const CHECK_TIMEOUT_MS = 10 * 60_000;

const isBuiltin = (name: string): name is NonNullable<CheckSpec['builtin']> => (BUILTIN_CHECKS as readonly string[]).includes(name);

/** The checks of a config list, checked: unknown built-ins, twice the same name, bad counts and timeouts are the user's error (a one-line string). */
export function checkSpecs(list: CheckConfig[] = DEFAULT_CHECKS): CheckSpec[] {
  const specs = list.map((entry): CheckSpec => {
    const e = typeof entry === 'string' ? { name: entry } : entry;
    const timeoutMs = e.timeout === undefined ? CHECK_TIMEOUT_MS : checkTimeout(e.timeout, e.name);
    if (e.run === undefined) {
      if (!isBuiltin(e.name)) {
        throw new Error(typeof entry === 'string'
          ? `unknown check "${e.name}": the built-in checks are ${BUILTIN_CHECKS.join(', ')}; give others as { "name", "run", "count" }`
          : `check "${e.name}" has no "run": give its shell command, or name a built-in check (${BUILTIN_CHECKS.join(', ')})`);
      }
      if (e.count !== undefined || e.better !== undefined) throw new Error(`check "${e.name}" is built in: it takes a "timeout", but its count and which way it is better are its own`);
      return { name: e.name, builtin: e.name, timeoutMs, better: defaultBetter(e.name) };
    }
    if (e.count && !(COUNT_PARSERS as readonly string[]).includes(e.count)) countRegex(e.count, e.name);
    return { name: e.name, run: e.run, count: e.count, timeoutMs, better: e.better ?? 'lower' };
  });
  const names = specs.map((s) => s.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new Error(`check "${twice}" is given twice: names must differ, they name the results`);
  return specs;
}

function checkTimeout(value: string | number, check: string): number {
  try {
    return parseDuration(value, 'timeout');
  } catch (error) {
    throw new Error(`check "${check}": ${(error as Error).message.replace(/\.$/, '')}`);
  }
}

/** 1_200_000 -> "20m": a timeout as the config would give it. */
export function timeoutText(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

function countRegex(source: string, check: string): RegExp {
  let re: RegExp;
  try {
    re = new RegExp(source, 'm');
  } catch (error) {
    throw new Error(`check "${check}": count "${source}" is neither a parser (${COUNT_PARSERS.join(', ')}) nor a regular expression: ${(error as Error).message}`);
  }
  if (new RegExp(`${source}|`).exec('')!.length !== 2) throw new Error(`check "${check}": count "${source}" needs exactly one group, the number: like "Found (\\d+) errors"`);
  return re;
}

/** How many checks run at once across a run's experiments: by default one per core, so seven pyrights do not fight seven agents for two cores. */
export function defaultCheckConcurrency(): number {
  return os.availableParallelism();
}

export interface CheckTarget {
  slotDir: string;
  /** Runs a check's command in the slot's sandbox (core/agent/sandbox.ts), when there is one. */
  wrap?: Wrap;
  /** Changed Python files present in the slot, repository paths. */
  pythonFiles: string[];
  /** Of those, the test files. */
  testFiles: string[];
  /** The slot's .venv interpreter, if it has one. */
  python?: string;
  env: NodeJS.ProcessEnv;
  /** `checks/` of the experiment folder (or of a verification). */
  outDir: string;
  signal?: AbortSignal;
}

/** Runs one check in the slot and keeps its output in `outDir`. Never throws: a check that cannot run says why. */
export async function runCheck(spec: CheckSpec, target: CheckTarget): Promise<CheckResult> {
  const started = Date.now();
  await fs.ensureDir(target.outDir);
  let result: Omit<CheckResult, 'durationMs'>;
  try {
    result = spec.builtin === 'pyright' ? await pyright(spec, target) : spec.builtin === 'pytest-collect' ? await pytestCollect(spec, target) : await userCheck(spec, target);
  } catch (error) {
    result = { passed: null, count: null, error: `could not run: ${(error as Error).message.split('\n')[0]}` };
  }
  return { ...result, durationMs: Date.now() - started };
}

async function pyright(spec: CheckSpec, t: CheckTarget): Promise<Omit<CheckResult, 'durationMs'>> {
  if (t.pythonFiles.length === 0) return nothingToCheck();
  const verdict = await checkPython(t.slotDir, t.pythonFiles, { python: t.python, timeoutMs: spec.timeoutMs, signal: t.signal, wrap: t.wrap });
  await writeJsonAtomic(path.join(t.outDir, 'pyright.json'), { format: 1, ...verdict });
  if (verdict.timedOut) return timedOut(spec);
  if (verdict.failure) return { passed: null, count: null, error: verdict.failure };
  return { passed: verdict.errors === 0, count: verdict.errors };
}

/** Does each generated test import and collect, and how many test items: `python -m pytest --collect-only -q`. */
async function pytestCollect(spec: CheckSpec, t: CheckTarget): Promise<Omit<CheckResult, 'durationMs'>> {
  if (t.testFiles.length === 0) return { passed: null, count: null, error: 'no test files changed', nothingToCheck: true };
  const python = t.python ?? 'python3';
  const out = await runToFiles(python, ['-m', 'pytest', '--collect-only', '-q', '-p', 'no:cacheprovider', ...t.testFiles], spec, t);
  if (out.missing) return { passed: null, count: null, error: `${python} not found` };
  if (out.stoppedFor) return stopped(spec, out.stoppedFor);
  if (/No module named pytest/.test(out.stderr)) return { passed: null, count: null, error: `pytest is not installed for ${t.python ? "the slot's .venv" : python}: add it to the slot's Python setup` };
  const count = parseCount('pytest', out.stdout);
  // 0: collected; 5: nothing to collect; 2: errors during collection; others: pytest could not run.
  if (out.exitCode === 0 || out.exitCode === 5 || out.exitCode === 2) {
    const detail = collectionError(out.stdout);
    return { passed: out.exitCode === 0, count: count ?? 0, ...(detail ? { detail } : out.exitCode === 5 ? { detail: 'no tests collected' } : {}) };
  }
  return { passed: null, count: null, error: `pytest exited with ${out.exitCode ?? out.signal}: ${lastLine(out.stderr || out.stdout)}` };
}

/** `test_b.py: ModuleNotFoundError: No module named 'x'`: the first file that failed to collect and pytest's `E` line for it. */
function collectionError(output: string): string | undefined {
  const header = /^_+ ERROR collecting (\S+) _+$/m.exec(output);
  if (!header) return undefined;
  const rest = output.slice(header.index);
  const error = /^E\s+(\w*(?:Error|Exception)\b.*)$/m.exec(rest)?.[1] ?? /^E\s+(\S.*)$/m.exec(rest)?.[1] ?? 'collection error';
  const line = /^E\s+File "[^"]*", line (\d+)/m.exec(rest)?.[1];
  return `${header[1]}: ${error}${line ? ` (line ${line})` : ''}`;
}

async function userCheck(spec: CheckSpec, t: CheckTarget): Promise<Omit<CheckResult, 'durationMs'>> {
  const wantsFiles = spec.run!.includes('{files}');
  if (wantsFiles && t.pythonFiles.length === 0) return nothingToCheck();
  const command = spec.run!.replaceAll('{files}', t.pythonFiles.map(shellQuote).join(' '));
  const out = await runToFiles('/bin/sh', ['-c', command], spec, t);
  if (out.stoppedFor) return stopped(spec, out.stoppedFor);
  // The shell's "not found" statuses: the check's tool is missing, which says nothing of the agent.
  if (out.exitCode === 127 || out.exitCode === 126) return { passed: null, count: null, error: `${lastLine(out.stderr) || 'its command was not found'}` };
  const count = spec.count ? parseCount(spec.count, `${out.stdout}\n${out.stderr}`, spec.name) : null;
  return { passed: out.exitCode === 0, count };
}

/** A check that ran out of time did not pass: whatever it would have found, the agent's files kept it from finishing. */
function timedOut(spec: CheckSpec): Omit<CheckResult, 'durationMs'> {
  return { passed: false, count: null, timedOut: true, detail: `timed out after ${timeoutText(spec.timeoutMs)}` };
}

function stopped(spec: CheckSpec, reason: string): Omit<CheckResult, 'durationMs'> {
  return reason === 'timeout' ? timedOut(spec) : { passed: null, count: null, error: 'interrupted' };
}

function nothingToCheck(): Omit<CheckResult, 'durationMs'> {
  return { passed: null, count: null, error: 'no Python files changed', nothingToCheck: true };
}

/** A count from a check's output: a named parser's, or a regex's one group. null when it is not there. */
export function parseCount(parser: string, output: string, check = parser): number | null {
  const number = (text: string | undefined) => (text === undefined || !Number.isFinite(Number(text)) ? null : Number(text));
  const json = () => {
    try {
      return JSON.parse(output) as unknown;
    } catch {
      return undefined;
    }
  };
  switch (parser) {
    case 'json-length': {
      const data = json();
      return Array.isArray(data) ? data.length : null;
    }
    case 'ruff': {
      const data = json();
      if (Array.isArray(data)) return data.length;
      return /Found (\d+) errors?/.test(output) ? number(/Found (\d+) errors?/.exec(output)![1]) : /All checks passed/.test(output) ? 0 : null;
    }
    case 'pyright': {
      const data = json() as { summary?: { errorCount?: number } } | undefined;
      if (data?.summary?.errorCount !== undefined) return data.summary.errorCount;
      return number(/(\d+) errors?,/.exec(output)?.[1]);
    }
    case 'pytest': {
      // `2 tests collected in 0.1s`, `1 test collected, 1 error`, `no tests collected`, `3 passed, 1 failed in 2s`.
      const collected = /(\d+)(?:\/\d+)? tests? collected/.exec(output) ?? /collected (\d+) items?/.exec(output);
      if (collected) return Number(collected[1]);
      if (/no tests collected/.test(output)) return 0;
      const passed = /(\d+) passed/.exec(output);
      return passed ? Number(passed[1]) : null;
    }
    default:
      return number(countRegex(parser, check).exec(output)?.[1]);
  }
}

export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

function lastLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).at(-1) ?? '';
}

/** Reads at most this much of a check's output back for its count and detail. */
const READ_BACK = 32 * 1024 * 1024;

/**
 * Runs a check's process like an agent (its own group, marked, watched: nothing outlives ptg),
 * its output straight to `checks/<name>.txt` and `.stderr.txt`, and reads the output back.
 */
async function runToFiles(command: string, args: string[], spec: CheckSpec, t: CheckTarget) {
  const stdoutFile = path.join(t.outDir, `${spec.name}.txt`);
  const stderrFile = path.join(t.outDir, `${spec.name}.stderr.txt`);
  const venvBin = t.python ? path.dirname(t.python) : undefined;
  const env = { ...t.env, PATH: [venvBin, t.env.PATH].filter(Boolean).join(path.delimiter) };
  const run = t.wrap ? t.wrap(command, args) : { command, args };
  const handle = await startAgent({ command: run.command, args: run.args, cwd: t.slotDir, input: '', stdoutFile, stderrFile, env, timeoutMs: spec.timeoutMs, pidNamespace: Boolean(t.wrap) });
  const onAbort = () => handle.stop('interrupt', 1000);
  t.signal?.addEventListener('abort', onAbort, { once: true });
  const ended = await handle.exit.finally(() => t.signal?.removeEventListener('abort', onAbort));
  const exit = t.wrap ? unwrapExit(ended) : ended;
  const read = async (file: string) => {
    const fd = await fs.open(file, 'r');
    try {
      const buffer = Buffer.alloc(Math.min((await fs.fstat(fd)).size, READ_BACK));
      await fs.read(fd, buffer, 0, buffer.length, 0);
      return buffer.toString('utf8');
    } finally {
      await fs.close(fd);
    }
  };
  // Empty stderr files say nothing: keep only the ones that hold something.
  const stderr = await read(stderrFile);
  if (!stderr) await fs.remove(stderrFile);
  return { missing: Boolean(exit.spawnError), exitCode: exit.exitCode, signal: exit.signal, stoppedFor: exit.stoppedFor, stdout: await read(stdoutFile), stderr };
}

export type Limit = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * Runs an experiment's checks one after another, each waiting for a place under `limit` (shared
 * by the run's experiments). Returns every check's result, by name.
 */
export async function runChecks(specs: CheckSpec[], target: CheckTarget, limit: Limit = (fn) => fn()): Promise<CheckResults> {
  const results: CheckResults = {};
  const env = { ...target.env, PYTHONDONTWRITEBYTECODE: '1' };
  for (const spec of specs) {
    if (target.signal?.aborted) break;
    results[spec.name] = await limit(() => runCheck(spec, { ...target, env }));
  }
  return results;
}
