// `ptg demo`: the whole pipeline on the bundled example, offline. The real Claude Code CLI (the
// one ptg pins in a clone, else the user's own from PATH) talks to the scripted model server;
// ptg itself runs as child processes, exactly as a user would run it, so the demo proves what
// the user will get.
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'fs-extra';
import { UsageError } from '../errors.js';
import { commitFolderAsBare } from '../io/git.js';
import { runCommand, which } from '../io/process/proc.js';
import { offlineClaudeEnv, startModelServer } from './model-server.js';
import { demoConversation, loadDemoScript } from './script.js';

/** The ptg package: from dist/demo/ or src/demo/, two folders up. */
export const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EXAMPLES_DIR = path.join(PACKAGE_DIR, 'examples');
const PTG_BIN = path.join(PACKAGE_DIR, 'bin', 'ptg.js');
/**
 * The Claude Code ptg pins, a dev dependency: in ptg's own node_modules in a clone, absent from
 * an installed package (as a dependency its `claude` would land first on the user's PATH).
 * Looked up there only: a project's own copy, which Node's resolution would find too, is not it.
 */
const PINNED_DIR = path.join(PACKAGE_DIR, 'node_modules', '@anthropic-ai', 'claude-code');
const PINNED_VERSION = (createRequire(import.meta.url)(path.join(PACKAGE_DIR, 'package.json')) as { devDependencies?: Record<string, string> })
  .devDependencies?.['@anthropic-ai/claude-code'] ?? 'unknown';

/** In a demo folder: marks it as ours, so a second `ptg demo` may replace it. */
const MARKER = '.ptg-demo';
/** The example's monolithic version: its prompt does not name itself, so the script needs telling. */
const MONOLITHIC = 'v1';

export interface DemoPaths {
  dir: string;
  /** The experiment root: a copy of examples/root. */
  root: string;
  /** examples/target as a bare git repository: the demo's "remote". */
  upstream: string;
  workspace: string;
}

export function demoPaths(dir: string): DemoPaths {
  const root = path.join(dir, 'root');
  return { dir, root, upstream: path.join(dir, 'inventory.git'), workspace: path.join(root, 'parallel') };
}

export interface DemoStep {
  /** The ptg arguments, as a user would type them after `ptg`. */
  args: string[];
  /** Exit codes that mean the step worked. `ptg run v1` exits 1: one STP fails on purpose. */
  expect: number[];
  why?: string;
}

/** The pipeline, in order. */
export function demoSteps(paths: DemoPaths, claude: string): DemoStep[] {
  return [
    { args: ['setup', '--repo', paths.upstream, '--no-python'], expect: [0] },
    { args: ['run', 'v1', '--agent', claude], expect: [0, 1], why: 'STP 4 fails on purpose: the script answers it with HTTP 529 Overloaded' },
    { args: ['run', 'v2', '--agent', claude], expect: [0] },
    { args: ['collect', 'v1'], expect: [0] },
    { args: ['collect', 'v2'], expect: [0] },
    { args: ['compare', 'v1', 'v2'], expect: [0] },
  ];
}

export interface ClaudeBinary {
  path: string;
  version: string;
  /** `pinned`: ptg's own dev dependency (a clone); `path`: the first `claude` on PATH, the user's. */
  source: 'pinned' | 'path';
  /** The version ptg pins, which the demo's script is written for. */
  pinnedVersion: string;
}

/**
 * The Claude Code the demo runs: the pinned one when it is there and starts, else the first
 * `claude` on PATH. `env` is the one the demo runs claude with: probed as it will run.
 */
export async function findClaude(env: NodeJS.ProcessEnv): Promise<ClaudeBinary> {
  const pinned = await pinnedClaude(env);
  if ('path' in pinned) return pinned;
  const onPath = await which('claude', env.PATH);
  if (!onPath) {
    // A clone whose pinned claude is broken is told how to mend it; anyone else how to get one.
    if (pinned.broken) throw new UsageError(pinned.broken);
    throw new UsageError(
      'No Claude Code to run the demo with: install it with `npm install -g @anthropic-ai/claude-code` (the demo talks to a scripted model on 127.0.0.1 and spends nothing).',
    );
  }
  const probe = await runCommand(onPath, ['--version'], { env, timeoutMs: 30_000 });
  if (!probe.ok) {
    throw new UsageError(`The claude on PATH (${onPath}) does not start (${probe.reason}): reinstall it with \`npm install -g @anthropic-ai/claude-code\`.`);
  }
  return { path: onPath, version: versionOf(probe.output), source: 'path', pinnedVersion: PINNED_VERSION };
}

/** The pinned Claude Code, or why not: `broken` says what to do when it is there but does not start. */
async function pinnedClaude(env: NodeJS.ProcessEnv): Promise<ClaudeBinary | { broken?: string }> {
  const pkgFile = path.join(PINNED_DIR, 'package.json');
  if (!(await fs.pathExists(pkgFile))) return {};
  const pkg = (await fs.readJson(pkgFile)) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.claude;
  // npm's link is named `claude` (the package's file is bin/claude.exe, on every platform): reports show the name.
  const link = path.join(PACKAGE_DIR, 'node_modules', '.bin', 'claude');
  const file = (await fs.pathExists(link)) ? link : bin ? path.join(PINNED_DIR, bin) : '';
  const probe = file ? await runCommand(file, ['--version'], { env, timeoutMs: 30_000 }) : undefined;
  if (!probe?.ok) {
    return {
      broken: `Claude Code in ${PINNED_DIR} does not start (${probe?.reason ?? 'no claude binary in its package.json'}): run \`npm install\` in ${PACKAGE_DIR} again; its install script puts the native binary in place.`,
    };
  }
  return { path: file, version: versionOf(probe.output), source: 'pinned', pinnedVersion: PINNED_VERSION };
}

/** `2.1.197 (Claude Code)` -> `2.1.197`. */
function versionOf(output: string): string {
  return output.split('\n')[0]!.replace(/\s*\(Claude Code\)\s*$/, '').trim();
}

/** Makes the demo folder, or empties one that an earlier demo made; anything else is left alone. */
export async function prepareDir(dir: string): Promise<void> {
  if (await fs.pathExists(dir)) {
    const entries = await fs.readdir(dir);
    if (entries.length > 0 && !entries.includes(MARKER)) {
      throw new UsageError(`${dir} exists and was not made by \`ptg demo\`: name another folder, like \`ptg demo ${path.basename(dir)}-2\`.`);
    }
    await fs.emptyDir(dir);
  }
  await fs.ensureDir(dir);
  await fs.writeFile(path.join(dir, MARKER), 'Made by `ptg demo`; a later `ptg demo` here replaces this folder whole.\n');
}

/** Leaves out what running the example by hand leaves behind: a workspace, caches, a venv. */
function exampleOnly(from: string): (src: string) => boolean {
  const skip = new Set(['__pycache__', '.pytest_cache', '.venv', '.git']);
  return (src) => !skip.has(path.basename(src)) && src !== path.join(from, 'parallel');
}

/** examples/target as a bare repository with one commit on `main`. */
export async function makeUpstream(target: string, bare: string): Promise<void> {
  const work = `${bare}.work`;
  await fs.copy(target, work, { filter: exampleOnly(target) });
  await commitFolderAsBare(work, bare, 'inventory: a small shop library');
  await fs.remove(work);
}

export interface StepResult {
  step: DemoStep;
  exitCode?: number;
  output: string;
  durationMs: number;
  ok: boolean;
}

export interface DemoEvents {
  onReady?(info: { paths: DemoPaths; claude: ClaudeBinary; serverUrl: string }): void;
  onStepStarted?(step: DemoStep): void;
  onStepFinished?(result: StepResult): void;
}

export interface DemoReport {
  version: string;
  runId: string;
  dir: string;
  summaryMd: string;
  reportHtml: string;
  summaryJson: string;
}

export interface DemoResult {
  paths: DemoPaths;
  claude: ClaudeBinary;
  steps: StepResult[];
  /** The step that did not work, if one did not; the demo stops there. */
  failed?: StepResult;
  reports: DemoReport[];
  comparison?: { md: string; html: string };
  /** Requests the scripted model answered. */
  modelRequests: number;
  durationMs: number;
}

/** The results folders that `ptg collect` wrote, found on disk (the workspace is new, so one per version). */
async function findOutputs(workspace: string): Promise<Pick<DemoResult, 'reports' | 'comparison'>> {
  const names = (await fs.pathExists(workspace)) ? (await fs.readdir(workspace)).sort() : [];
  const reports = names
    .map((name) => /^results_(v[\w.-]*?)_(\d{8}_\d{6}(?:_\d+)?)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map(([name, version, runId]) => {
      const dir = path.join(workspace, name);
      return { version: version!, runId: runId!, dir, summaryMd: path.join(dir, 'summary.md'), reportHtml: path.join(dir, 'report.html'), summaryJson: path.join(dir, 'summary.json') };
    });
  const comparison = names.find((n) => n.startsWith('comparison_') && n.endsWith('.md'));
  return { reports, comparison: comparison ? { md: path.join(workspace, comparison), html: path.join(workspace, comparison.replace(/\.md$/, '.html')) } : undefined };
}

/**
 * Builds the demo folder (a copy of the example root, the target as a bare repository), starts
 * the scripted model server and runs the pipeline with the ptg binary. The server and the
 * temporary claude home are gone when it returns.
 */
export async function runDemo(dir: string, events: DemoEvents = {}): Promise<DemoResult> {
  const started = Date.now();
  const paths = demoPaths(dir);
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'ptg-demo-home-'));
  try {
    const script = await loadDemoScript(path.join(EXAMPLES_DIR, 'scripted-model', 'script.json'));
    // Probed the way it will run: the throw-away home, none of the user's keys (no server yet: a closed port).
    const claude = await findClaude({ ...process.env, ...offlineClaudeEnv('http://127.0.0.1:9', home) });
    await prepareDir(dir);
    await fs.copy(path.join(EXAMPLES_DIR, 'root'), paths.root, { filter: exampleOnly(path.join(EXAMPLES_DIR, 'root')) });
    await makeUpstream(path.join(EXAMPLES_DIR, 'target'), paths.upstream);

    const server = await startModelServer(demoConversation(script, MONOLITHIC), { usage: script.usage });
    const steps: StepResult[] = [];
    let failed: StepResult | undefined;
    try {
      events.onReady?.({ paths, claude, serverUrl: server.url });
      const env = offlineClaudeEnv(server.url, home);
      for (const step of demoSteps(paths, claude.path)) {
        events.onStepStarted?.(step);
        const t0 = Date.now();
        const r = await runCommand(process.execPath, [PTG_BIN, ...step.args], { cwd: paths.root, env });
        const result = { step, exitCode: r.exitCode, output: r.output, durationMs: Date.now() - t0, ok: r.exitCode !== undefined && step.expect.includes(r.exitCode) };
        steps.push(result);
        events.onStepFinished?.(result);
        if (!result.ok) {
          failed = result;
          break;
        }
      }
    } finally {
      await server.close();
    }
    const modelRequests = server.requests.filter((r) => r.step !== undefined).length;
    return { paths, claude, steps, failed, ...(await findOutputs(paths.workspace)), modelRequests, durationMs: Date.now() - started };
  } finally {
    await fs.remove(home);
  }
}
