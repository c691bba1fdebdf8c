import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import fs from 'fs-extra';
import { UsageError } from '../../errors.js';
import { gitVersion, pastBase } from '../../io/git.js';
import { runCommand, which } from '../../io/process/proc.js';
import { pyrightVersion } from '../../io/pyright.js';
import { type AgentChoice, askAgentVersion, DEFAULT_AGENT, locateAgent } from '../agent/agent.js';
import { prepareSandbox, type SandboxSettings } from '../agent/sandbox.js';
import { networkText } from '../workspace/manifest.js';
import { paths, readSlot, readWorkspace } from '../workspace/workspace.js';

export interface Check {
  name: string;
  ok: boolean;
  /** Not fatal: ptg works, with less. */
  warning?: boolean;
  detail: string;
}

/** The Node versions ptg's package.json `engines` names, as `>=20.5`: one source for npm and doctor. */
const ENGINES = (createRequire(import.meta.url)('../../../package.json') as { engines: { node: string } }).engines.node;

const SOURCE: Record<AgentChoice['source'], string> = {
  '--agent': 'from --agent',
  PTG_AGENT: 'from PTG_AGENT',
  config: 'from agent.command in ptg.config.json',
  default: 'the first claude on PATH',
};

type DoctorOptions = {
  workspace: string;
  agent: AgentChoice;
  env: NodeJS.ProcessEnv;
  /** Per version, the variables its agents need (requiredEnv): each is said to be set or missing, never its value. */
  requiredEnv?: { version: string; names: string[] }[];
  /** The sandbox settings a run would take (a bad mode throws, and is this check's failure). */
  sandbox?: () => SandboxSettings;
};

type Add = (name: string, ok: boolean, detail: string, warning?: boolean) => void;

/** Everything `ptg run` needs, checked one by one, each with what to do when it fails. */
export async function doctor(opts: DoctorOptions): Promise<Check[]> {
  const checks: Check[] = [];
  const add: Add = (name, ok, detail, warning = false) => void checks.push({ name, ok, detail, warning: !ok && warning });

  const node = nodeSatisfies(process.versions.node, ENGINES);
  add('node', node, `${process.version}${node ? '' : `: ptg needs Node ${ENGINES}`}`);
  const git = await gitVersion().catch(() => undefined);
  add('git', Boolean(git), git ?? 'not found');
  const agentPath = await agentChecks(opts, add);
  await pythonChecks(opts.env, add);
  if (opts.sandbox) add('sandbox', ...(await sandboxCheck(opts.sandbox, opts.env, opts.workspace, agentPath)));
  await machineChecks(opts, add);
  return checks;
}

/** The agent a run would start (path, version, where it came from), and its login. */
async function agentChecks(opts: DoctorOptions, add: Add): Promise<string | undefined> {
  const { command } = opts.agent;
  const agent = await locateAgent(command, opts.env);
  if (!agent) {
    add('agent', false, command === DEFAULT_AGENT ? 'claude not on PATH: npm install -g @anthropic-ai/claude-code' : `${command} not found`);
  } else {
    // Always asked (and recorded for the first line of `ptg run`): doctor is where a stale answer is put right.
    const version = await askAgentVersion(agent.path, opts.env, opts.workspace);
    const where = [
      agent.onPath && opts.agent.source !== 'default' ? `${command} ${SOURCE[opts.agent.source]}, the first on PATH` : SOURCE[opts.agent.source],
      agent.realPath !== agent.path ? `links to ${agent.realPath}` : undefined,
      agent.hidden.length > 0 ? `also on PATH: ${agent.hidden.join(', ')}` : undefined,
    ].filter(Boolean);
    add('agent', version.ok, `${agent.path} ${version.ok ? version.version : `does not run: ${version.reason}`} · ${where.join(' · ')}`);
    if (agent.projectBin) {
      add(
        'agent on PATH',
        false,
        `note: first on PATH is a project's node_modules/.bin (${agent.projectBin}; npx and npm scripts put it first), so runs use its ${command}${agent.hidden.length > 0 ? ` rather than ${agent.hidden[0]}` : ''}: name the one you mean with --agent or PTG_AGENT.`,
        true,
      );
    }
  }
  const credentials = path.join(opts.env.CLAUDE_CONFIG_DIR ?? path.join(os.homedir(), '.claude'), '.credentials.json');
  const login = opts.env.ANTHROPIC_API_KEY ? 'ANTHROPIC_API_KEY is set' : opts.env.CLAUDE_CODE_OAUTH_TOKEN ? 'CLAUDE_CODE_OAUTH_TOKEN is set' : (await fs.pathExists(credentials)) ? `logged in (${credentials})` : undefined;
  add('agent login', Boolean(login), login ?? 'no ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or claude login found: run `claude` once to log in', true);
  return agent?.path;
}

/** uv or python3 for setup, pyright, and pytest for the pytest-collect check. */
async function pythonChecks(env: NodeJS.ProcessEnv, add: Add): Promise<void> {
  const uv = await which('uv', env.PATH);
  const python = await which('python3', env.PATH);
  add('python', Boolean(uv || python), uv ? `uv at ${uv}` : python ? `python3 at ${python} (no uv: setup uses python3 -m venv)` : 'neither uv nor python3: setup --no-python, or install one', true);
  add('pyright', true, `${await pyrightVersion()} (npm, bundled with ptg)`);
  // pytest-collect runs the slot's .venv python, which setup gives pytest; python3's is the fallback.
  const pytest = python ? await runCommand(python, ['-m', 'pytest', '--version'], { env, timeoutMs: 30_000 }) : undefined;
  add('pytest', Boolean(pytest?.ok), pytest?.ok ? `${pytest.output.split('\n')[0]} (python3 on PATH; the pytest-collect check prefers the slot's .venv)` : "python3 has no pytest: the pytest-collect check needs it in the slot's .venv (setup installs it) or here", true);
}

/** Free disk, the user (root wants IS_SANDBOX=1), each version's required variables, the workspace. */
async function machineChecks(opts: DoctorOptions, add: Add): Promise<void> {
  const probe = (await fs.pathExists(opts.workspace)) ? opts.workspace : path.dirname(opts.workspace);
  const stats = await fs.promises.statfs(probe).catch(() => undefined);
  const freeGb = stats ? (stats.bavail * stats.bsize) / 1024 ** 3 : undefined;
  add('disk', freeGb === undefined || freeGb >= 2, freeGb === undefined ? 'unknown' : `${freeGb.toFixed(1)} GB free at ${probe}`, true);

  const root = process.getuid?.() === 0;
  const sandbox = opts.env.IS_SANDBOX === '1';
  add('user', !root || sandbox, root ? (sandbox ? 'root, IS_SANDBOX=1: claude accepts --dangerously-skip-permissions' : 'root without IS_SANDBOX=1: claude refuses --dangerously-skip-permissions; set IS_SANDBOX=1 in a container') : os.userInfo().username);

  for (const { version, names } of opts.requiredEnv ?? []) {
    const missing = names.filter((name) => !opts.env[name]);
    const set = names.filter((name) => opts.env[name]);
    const detail = [set.length ? `${set.join(', ')} set` : '', missing.length ? `${missing.join(', ')} missing: \`ptg run ${version}\` refuses to start` : ''].filter(Boolean).join('; ');
    add(`env ${version}`, missing.length === 0, detail, true);
  }

  const ws = await readWorkspace(opts.workspace).catch(() => undefined);
  add('workspace', Boolean(ws), ws ? `${opts.workspace}: ${ws.repo} at ${ws.baseCommit.slice(0, 10)}` : `${opts.workspace} is not set up: ptg setup`, true);
  if (ws) await historyCheck(opts.workspace, add);
}

/** Whether an agent in a slot could read past its base: a later commit, a branch, a remote to fetch from. */
async function historyCheck(workspace: string, add: Add): Promise<void> {
  const names = (await fs.readdir(path.dirname(paths.slotFile(workspace, 'x'))).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
  const seeing: string[] = [];
  for (const name of names.sort()) {
    const slot = await readSlot(workspace, name.slice(0, -'.json'.length)).catch(() => undefined);
    if (!slot || !(await fs.pathExists(path.join(slot.dir, '.git')))) continue;
    const past = await pastBase(slot.dir, slot.baseCommit).catch(() => [] as string[]);
    if (past.length) seeing.push(`${slot.slot} (${past.join(', ')})`);
  }
  if (names.length === 0) return;
  add('slot history', seeing.length === 0, seeing.length ? `an agent can see past its base in ${seeing.join('; ')}: ptg setup trims them` : `${names.length} slot(s) hold their base and its ancestors only`, true);
}

/** Which sandbox a run would get and why: bubblewrap's version, or none and how to get it. */
async function sandboxCheck(settings: () => SandboxSettings, env: NodeJS.ProcessEnv, workspace: string, agentPath?: string): Promise<[boolean, string, boolean]> {
  try {
    const sandbox = await prepareSandbox(settings(), { env, workspace, agentPath });
    const { record } = sandbox;
    if (record.kind === 'bwrap') {
      return [true, `bwrap ${record.version}: each agent sees its slot, the tools and its own session, nothing else; network ${networkText(record.network)} (checks: ${networkText(record.checkNetwork)})`, false];
    }
    return [!sandbox.warning, sandbox.warning ?? `none: ${record.reason}`, true];
  } catch (error) {
    if (error instanceof UsageError) return [false, error.message, false];
    throw error;
  }
}

/**
 * `20.11.1` against `>=20.5`, the one form of range ptg's engines uses; any other form is not
 * judged here (npm warns about it at install).
 */
export function nodeSatisfies(version: string, range: string): boolean {
  if (!/^>=\s*\d+(\.\d+){0,2}$/.test(range.trim())) return true;
  const parse = (v: string) => v.replace(/^[^\d]*/, '').split('.').map(Number);
  const [major = 0, minor = 0, patch = 0] = parse(version);
  const [wantMajor = 0, wantMinor = 0, wantPatch = 0] = parse(range);
  return major !== wantMajor ? major > wantMajor : minor !== wantMinor ? minor > wantMinor : patch >= wantPatch;
}
