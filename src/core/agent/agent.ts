// core/agent/ — imports from core/root, core/workspace (and io/); imported by core/setup, core/checks, core/run, core/reports, render/, commands/. The order of core's folders: docs/architecture.md.
// Which agent a run uses, where it lives, and its version, so that a user sees at once when an
// unexpected `claude` comes first on PATH: `npx` and npm scripts put a project's
// node_modules/.bin first, so an experiment repository's own dev dependency, or an old global
// install, can quietly stand in for the claude the user installed and spoil a comparison.
import path from 'node:path';
import fs from 'fs-extra';
import { readJsonIfExists, writeJsonAtomic } from '../../io/files.js';
import { runCommand, which } from '../../io/process/proc.js';
import { paths } from '../workspace/workspace.js';

export const DEFAULT_AGENT = 'claude';

/** Where the agent command came from, in the order ptg looks: the flag, the variable, the config, else `claude`. */
export type AgentSource = '--agent' | 'PTG_AGENT' | 'config' | 'default';

export interface AgentChoice {
  command: string;
  source: AgentSource;
}

/** The agent command of `ptg run` and `ptg doctor`: `--agent`, else `PTG_AGENT`, else the config's `agent.command`, else `claude`. */
export function chooseAgent(flag: string | undefined, env: NodeJS.ProcessEnv, configCommand: string | undefined): AgentChoice {
  if (flag) return { command: flag, source: '--agent' };
  if (env.PTG_AGENT) return { command: env.PTG_AGENT, source: 'PTG_AGENT' };
  if (configCommand) return { command: configCommand, source: 'config' };
  return { command: DEFAULT_AGENT, source: 'default' };
}

export interface AgentLocation {
  /** What runs: the command itself when it holds a `/`, else the first match on PATH. */
  path: string;
  /** The file behind the symlinks (npm's bin links point into a package). */
  realPath: string;
  /** Looked up on PATH rather than named by path. */
  onPath: boolean;
  /** Further matches on PATH, which the first one hides. */
  hidden: string[];
  /** The project's `node_modules/.bin` the first match is in, when it is in one. */
  projectBin?: string;
}

/** Finds the agent as `ptg run` would start it; undefined when it is not there. */
export async function locateAgent(command: string, env: NodeJS.ProcessEnv): Promise<AgentLocation | undefined> {
  const found = await which(command, env.PATH);
  if (!found) return undefined;
  const realPath = await fs.realpath(found).catch(() => found);
  const onPath = !command.includes('/');
  const hidden: string[] = [];
  if (onPath) {
    for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
      const other = await which(command, dir);
      if (other && other !== found && !hidden.includes(other)) hidden.push(other);
    }
  }
  const bin = path.dirname(found);
  const projectBin = onPath && path.basename(bin) === '.bin' && path.basename(path.dirname(bin)) === 'node_modules' ? bin : undefined;
  return { path: found, realPath, onPath, hidden, projectBin };
}

/** `<workspace>/.ptg/agents.json`: the versions agents answered, so `ptg run` can name one before asking. */
interface AgentVersions {
  format: 1;
  /** By real path; an entry counts only while the file keeps its size and modification time. */
  agents: Record<string, { size: number; mtimeMs: number; version: string; askedAt: string }>;
}

async function readVersions(workspace: string): Promise<AgentVersions> {
  // A cache: one that cannot be read is an empty one, never a reason to refuse a run.
  const data = await readJsonIfExists<AgentVersions>(paths.agentVersions(workspace), 1).catch(() => undefined);
  return data ?? { format: 1, agents: {} };
}

/** The version this very file (same real path, size and modification time) answered last time, if it was asked in this workspace. */
export async function cachedAgentVersion(workspace: string, agentPath: string): Promise<string | undefined> {
  const realPath = await fs.realpath(agentPath).catch(() => agentPath);
  const stat = await fs.stat(realPath).catch(() => undefined);
  const entry = (await readVersions(workspace)).agents[realPath];
  return stat && entry && entry.size === stat.size && entry.mtimeMs === stat.mtimeMs ? entry.version : undefined;
}

export type AgentVersion = { ok: true; version: string } | { ok: false; reason: string };

/**
 * Asks the agent's `--version` (its first line) and, when `workspace` is set up, records the
 * answer for the next run's first line. Recording never fails the caller.
 */
export async function askAgentVersion(agentPath: string, env: NodeJS.ProcessEnv, workspace?: string): Promise<AgentVersion> {
  const result = await runCommand(agentPath, ['--version'], { env, timeoutMs: 15_000 });
  if (!result.ok) return { ok: false, reason: result.reason ?? 'no answer' };
  const version = result.output.split('\n')[0]!.trim();
  if (workspace) await recordAgentVersion(workspace, agentPath, version).catch(() => undefined);
  return { ok: true, version };
}

async function recordAgentVersion(workspace: string, agentPath: string, version: string): Promise<void> {
  // Only in a workspace that setup made: doctor run anywhere must not leave a .ptg folder behind.
  if (!(await fs.pathExists(paths.state(workspace)))) return;
  const realPath = await fs.realpath(agentPath);
  const stat = await fs.stat(realPath);
  const data = await readVersions(workspace);
  // Two runs at once may each write the file: the last one wins, and both entries are true.
  data.agents[realPath] = { size: stat.size, mtimeMs: stat.mtimeMs, version, askedAt: new Date().toISOString() };
  await writeJsonAtomic(paths.agentVersions(workspace), data);
}
