import os from 'node:os';
import path from 'node:path';
import fs from 'fs-extra';
import { gitVersion } from '../io/git.js';
import { runCommand, which } from '../io/proc.js';
import { pyrightVersion } from '../io/pyright.js';
import { DEFAULT_AGENT } from './run.js';
import { readWorkspace } from './workspace.js';

export interface Check {
  name: string;
  ok: boolean;
  /** Not fatal: ptg works, with less. */
  warning?: boolean;
  detail: string;
}

/** Everything `ptg run` needs, checked one by one, each with what to do when it fails. */
export async function doctor(opts: {
  workspace: string;
  agentCommand: string;
  env: NodeJS.ProcessEnv;
  /** Per version, the variables its agents need (requiredEnv): each is said to be set or missing, never its value. */
  requiredEnv?: { version: string; names: string[] }[];
}): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail: string, warning = false) => checks.push({ name, ok, detail, warning: !ok && warning });

  const major = Number(process.versions.node.split('.')[0]);
  add('node', major >= 20, `${process.version}${major >= 20 ? '' : ': ptg needs Node 20 or newer'}`);
  add('git', true, await gitVersion().catch(() => 'not found'));
  if (checks.at(-1)!.detail === 'not found') checks.at(-1)!.ok = false;

  const agent = await which(opts.agentCommand, opts.env.PATH);
  if (!agent) {
    add('agent', false, opts.agentCommand === DEFAULT_AGENT ? 'claude not on PATH: npm install -g @anthropic-ai/claude-code' : `${opts.agentCommand} not found`);
  } else {
    const version = await runCommand(agent, ['--version'], { env: opts.env, timeoutMs: 15_000 });
    add('agent', version.ok, `${agent} ${version.ok ? version.output.split('\n')[0] : `does not run: ${version.reason}`}`);
  }
  const credentials = path.join(opts.env.CLAUDE_CONFIG_DIR ?? path.join(os.homedir(), '.claude'), '.credentials.json');
  const login = opts.env.ANTHROPIC_API_KEY ? 'ANTHROPIC_API_KEY is set' : opts.env.CLAUDE_CODE_OAUTH_TOKEN ? 'CLAUDE_CODE_OAUTH_TOKEN is set' : (await fs.pathExists(credentials)) ? `logged in (${credentials})` : undefined;
  add('agent login', Boolean(login), login ?? 'no ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or claude login found: run `claude` once to log in', true);

  const uv = await which('uv', opts.env.PATH);
  const python = await which('python3', opts.env.PATH);
  add('python', Boolean(uv || python), uv ? `uv at ${uv}` : python ? `python3 at ${python} (no uv: setup uses python3 -m venv)` : 'neither uv nor python3: setup --no-python, or install one', true);
  add('pyright', true, `${await pyrightVersion()} (npm, bundled with ptg)`);

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
  return checks;
}
