// What an agent (and a check on what it wrote) may see of the machine: its slot read-write; the
// system, its own program, Node and the slot's Python read-only; a private /tmp and $HOME; its own
// /proc; the network; Claude Code's configuration and a session folder of its own. Not the other
// slots, the workspace's records, the rest of the user's home, other Claude Code sessions.
// The choice (auto, bwrap, none) and the view are decided here; io/process/sandbox.ts speaks to bwrap.
import os from 'node:os';
import path from 'node:path';
import fs from 'fs-extra';
import { UsageError } from '../../errors.js';
import { which } from '../../io/process/proc.js';
import { PYRIGHT_DIR } from '../../io/pyright.js';
import { bwrapArgs, type Mount, probeBwrap } from '../../io/process/sandbox.js';
import { claudeConfigDir, claudeProjectDir } from './claude-store.js';
import type { SandboxRecord } from '../workspace/manifest.js';

export const SANDBOX_MODES = ['auto', 'bwrap', 'none'] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

/** What the user asked for, and where that came from: the flag, then PTG_SANDBOX, then the config. */
export interface SandboxSettings {
  mode: SandboxMode;
  source: '--sandbox' | 'PTG_SANDBOX' | 'config' | 'default';
  /** Absolute paths added to the view (sandbox.readOnly / --sandbox-ro, sandbox.readWrite / --sandbox-rw). */
  readOnly: string[];
  readWrite: string[];
}

export const DEFAULT_SANDBOX: SandboxSettings = { mode: 'auto', source: 'default', readOnly: [], readWrite: [] };


export interface Sandbox {
  record: SandboxRecord;
  /** `auto` found no working bubblewrap: the one line that says so and how to get one. */
  warning?: string;
  /** With bubblewrap: its path, what every view holds, and the agent whose real path runs inside. */
  bwrap?: string;
  base?: Mount[];
  env: NodeJS.ProcessEnv;
  agent?: { path: string; real: string };
}

const SOURCE_NAME: Record<SandboxSettings['source'], string> = { '--sandbox': '--sandbox', PTG_SANDBOX: 'PTG_SANDBOX', config: '"sandbox" in ptg.config.json', default: 'the default' };

/**
 * `--sandbox` over `PTG_SANDBOX` over the config's `sandbox` (a mode, or `{ mode, readOnly,
 * readWrite }`), else auto. Paths: `~/…` in the home folder; others relative to the root folder
 * (the config's) or the current one (the flags').
 */
export function sandboxSettings(
  flags: { sandbox?: string; sandboxRo?: string[]; sandboxRw?: string[] },
  env: NodeJS.ProcessEnv,
  config: string | { mode?: string; readOnly?: string[]; readWrite?: string[] } | undefined,
  dirs: { root: string; cwd: string },
): SandboxSettings {
  const fromConfig = typeof config === 'string' ? { mode: config } : (config ?? {});
  const [given, source] = flags.sandbox !== undefined ? [flags.sandbox, '--sandbox' as const] : env.PTG_SANDBOX ? [env.PTG_SANDBOX, 'PTG_SANDBOX' as const] : fromConfig.mode ? [fromConfig.mode, 'config' as const] : ['auto', 'default' as const];
  if (!(SANDBOX_MODES as readonly string[]).includes(given)) {
    throw new UsageError(`${source === 'PTG_SANDBOX' ? `PTG_SANDBOX=${given}` : source === 'config' ? `ptg.config.json: "sandbox": "${given}"` : `--sandbox ${given}`}: choose auto, bwrap or none.`);
  }
  const home = env.HOME || os.homedir();
  const resolve = (base: string) => (p: string) => (p === '~' ? home : p.startsWith('~/') ? path.join(home, p.slice(2)) : path.resolve(base, p));
  return {
    mode: given as SandboxMode,
    source,
    readOnly: [...(fromConfig.readOnly ?? []).map(resolve(dirs.root)), ...(flags.sandboxRo ?? []).map(resolve(dirs.cwd))],
    readWrite: [...(fromConfig.readWrite ?? []).map(resolve(dirs.root)), ...(flags.sandboxRw ?? []).map(resolve(dirs.cwd))],
  };
}

/**
 * The sandbox of a run (or a handoff, a verify): bubblewrap probed once, and what every view
 * holds. `bwrap` that cannot work is refused (exit 2) with the cause; `auto` then runs unsandboxed
 * with a warning; `none` is what the user said.
 */
export async function prepareSandbox(settings: SandboxSettings, opts: { env: NodeJS.ProcessEnv; workspace: string; agentPath?: string }): Promise<Sandbox> {
  const { env } = opts;
  if (settings.mode === 'none') return { env, record: { kind: 'none', reason: `${settings.source === 'config' ? 'ptg.config.json says' : SOURCE_NAME[settings.source]} none` } };
  for (const p of [...settings.readOnly, ...settings.readWrite]) {
    if (!(await fs.pathExists(p))) throw new UsageError(`The sandbox cannot show ${p} to the agent: there is no such file or folder (sandbox.readOnly/readWrite, --sandbox-ro/--sandbox-rw).`);
  }
  const cause = await bwrapCause(env);
  if (typeof cause === 'string') {
    if (settings.mode === 'bwrap') {
      throw new UsageError(`--sandbox bwrap (from ${SOURCE_NAME[settings.source]}): ${cause}. Install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap), or choose --sandbox none.`);
    }
    return {
      env,
      record: { kind: 'none', reason: cause },
      warning: `agents run without a sandbox: ${cause}; install bubblewrap (apt-get install bubblewrap) to give each its own view of the machine, or say --sandbox none.`,
    };
  }
  const agent = opts.agentPath ? { path: opts.agentPath, real: await fs.realpath(opts.agentPath).catch(() => opts.agentPath!) } : undefined;
  const base = await baseMounts(settings, env, opts.workspace, agent?.real);
  return { env, record: { kind: 'bwrap', version: cause.version }, bwrap: cause.bwrap, base, agent };
}

/** Why bubblewrap cannot be used here, or its path and version. */
async function bwrapCause(env: NodeJS.ProcessEnv): Promise<string | { bwrap: string; version: string }> {
  if (process.platform !== 'linux') return `bubblewrap is for Linux only (this is ${process.platform})`;
  const bwrap = await which('bwrap', env.PATH);
  if (!bwrap) return 'bubblewrap (bwrap) is not on PATH';
  const probe = await probeBwrap(bwrap, isRoot());
  return probe.ok ? { bwrap, version: probe.version } : probe.cause;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The system read-only, /proc, /dev, a private /tmp and $HOME, the tools, the PATH's folders, the user's additions. */
async function baseMounts(settings: SandboxSettings, env: NodeJS.ProcessEnv, workspace: string, agentReal?: string): Promise<Mount[]> {
  const mounts: Mount[] = [{ kind: 'ro', path: '/usr' }, { kind: 'ro', path: '/etc' }];
  for (const dir of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    const stat = await fs.lstat(dir).catch(() => undefined);
    if (stat?.isSymbolicLink()) mounts.push({ kind: 'symlink', path: dir, target: await fs.readlink(dir) });
    else if (stat?.isDirectory()) mounts.push({ kind: 'ro', path: dir });
  }
  // systemd's /etc/resolv.conf links into /run: without it, no name resolves.
  const resolv = await fs.realpath('/etc/resolv.conf').catch(() => undefined);
  if (resolv && !/^\/(etc|usr)\//.test(resolv)) mounts.push({ kind: 'ro', path: resolv });
  mounts.push({ kind: 'proc', path: '/proc' }, { kind: 'dev', path: '/dev' }, { kind: 'tmpfs', path: '/tmp' });
  const home = env.HOME || os.homedir();
  if (path.isAbsolute(home) && home !== '/' && !/^\/(usr|etc|proc|dev)(\/|$)/.test(home)) mounts.push({ kind: 'tmpfs', path: home });

  // Never a folder that holds the workspace (or the home folder): that would show everything.
  const shows = (dir: string) => !inside(workspace, dir) && !inside(home, dir) && !inside(dir, workspace);
  const tools = [agentReal && packageDir(agentReal), await realDir(await which('node', env.PATH)), await realDir(process.execPath), await realDir(await which('uv', env.PATH)), PYRIGHT_DIR];
  const pathDirs = (env.PATH ?? '').split(path.delimiter).filter((d) => path.isAbsolute(d));
  for (const dir of [...tools, ...pathDirs.flatMap((d) => toolRoot(path.resolve(d), home))]) {
    if (dir && shows(path.resolve(dir)) && (await fs.pathExists(dir))) mounts.push({ kind: 'ro', path: path.resolve(dir) });
  }
  // An agent (a wrapper script, say) beside the workspace: its folder would show the workspace, so the file alone.
  if (agentReal && !shows(packageDir(agentReal))) mounts.push({ kind: 'ro', path: agentReal });
  for (const file of HOME_CREDENTIALS.map((f) => path.join(home, f))) if (await fs.pathExists(file)) mounts.push({ kind: 'empty', path: file });
  for (const p of settings.readOnly) mounts.push({ kind: 'ro', path: p });
  for (const p of settings.readWrite) mounts.push({ kind: 'rw', path: p });
  return mounts;
}

/** Credentials inside the tool folders toolRoot shows, hidden. */
const HOME_CREDENTIALS = ['.cargo/credentials', '.cargo/credentials.toml'];

/**
 * What a PATH folder inside the home folder needs: its tool's whole folder (`~/.pyenv/shims` runs
 * `~/.pyenv/libexec/pyenv`; `~/.cargo/bin`, `~/.nvm/versions/…/bin` alike), `~/.local/bin` with
 * `~/.local/lib` (pip's scripts and their packages). Outside the home folder, the folder itself.
 */
function toolRoot(dir: string, home: string): string[] {
  if (!inside(dir, home) || dir === home) return [dir];
  const top = path.join(home, path.relative(home, dir).split(path.sep)[0]!);
  if (top === path.join(home, '.local')) return [path.join(top, 'bin'), path.join(top, 'lib')];
  return [top.startsWith(path.join(home, '.')) ? top : dir];
}

function inside(p: string, dir: string): boolean {
  return dir === '/' || p === dir || p.startsWith(`${dir}/`);
}

async function realDir(file: string | undefined): Promise<string | undefined> {
  return file && path.dirname(await fs.realpath(file).catch(() => file));
}

/** The npm package a program is in (`…/node_modules/@scope/name`), which it may need whole; else its folder. */
function packageDir(real: string): string {
  const parts = real.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at < 0 || at + 1 >= parts.length - 1) return path.dirname(real);
  return parts.slice(0, at + (parts[at + 1]!.startsWith('@') ? 3 : 2)).join('/');
}

/** Claude Code's stores of other sessions' content, hidden; its configuration and credentials stay. */
const OTHER_SESSIONS = ['file-history', 'todos', 'shell-snapshots', 'session-env', 'paste-cache', 'debug'];

export type Wrap = (command: string, args: string[]) => { command: string; args: string[] };

export interface SlotView {
  /** The command and arguments that run `command` in the sandbox. */
  wrap: Wrap;
  /** Removes the folders ptg made for the view that are still empty. */
  cleanup(): Promise<void>;
}

/**
 * One process's view, for a slot: the run's base, the slot read-write (its .git/config and hooks
 * read-only: git runs them for ptg outside the sandbox), the base of its .venv's Python, `readOnly`
 * read-only (the STP), and with `agent` Claude Code's configuration with a session folder of the
 * slot's own. Undefined without bubblewrap.
 */
export async function slotView(sandbox: Sandbox, target: { slotDir: string; readOnly?: string[]; agent?: boolean; python?: string }): Promise<SlotView | undefined> {
  if (!sandbox.bwrap || !sandbox.base) return undefined;
  const real = await fs.realpath(target.slotDir);
  const mounts: Mount[] = [...sandbox.base, { kind: 'rw', path: real }];
  if (real !== path.resolve(target.slotDir)) mounts.push({ kind: 'rw', path: path.resolve(target.slotDir), source: real });
  if ((await fs.stat(path.join(real, '.git')).catch(() => undefined))?.isDirectory()) {
    await fs.ensureDir(path.join(real, '.git', 'hooks'));
    for (const p of ['config', 'hooks']) if (await fs.pathExists(path.join(real, '.git', p))) mounts.push({ kind: 'ro', path: path.join(real, '.git', p) });
  }
  for (const python of [path.join(real, '.venv', 'bin', 'python'), target.python]) {
    const prefix = python && (await pythonPrefix(python));
    if (prefix && !inside(prefix, real)) mounts.push({ kind: 'ro', path: prefix });
  }
  for (const p of target.readOnly ?? []) if (await fs.pathExists(p)) mounts.push({ kind: 'ro', path: p });
  const created: string[] = [];
  if (target.agent) mounts.push(...(await claudeMounts(sandbox.env, real, created)));
  const args = bwrapArgs(mounts, { cwd: real, dropCapabilities: isRoot(), setenv: sandbox.env.TMPDIR ? { TMPDIR: '/tmp' } : undefined });
  const { bwrap, agent } = sandbox;
  return {
    wrap: (command, rest) => ({ command: bwrap, args: [...args, '--', command === agent?.path ? agent.real : command, ...rest] }),
    cleanup: async () => {
      for (const dir of created.reverse()) await fs.rmdir(dir).catch(() => undefined);
    },
  };
}

/** The installation a Python interpreter belongs to (`<prefix>/bin/python3.12`), for its standard library and site-packages. */
async function pythonPrefix(python: string): Promise<string | undefined> {
  const real = await fs.realpath(python).catch(() => undefined);
  return real && path.dirname(path.dirname(real));
}

/**
 * Claude Code's configuration read-write (credentials are refreshed there), with every other
 * session hidden: `projects/` is empty but for this slot's folder, made here when missing (and
 * listed in `created`), where the agent's session lands and `ptg handoff` finds it.
 */
async function claudeMounts(env: NodeJS.ProcessEnv, slotReal: string, created: string[]): Promise<Mount[]> {
  const config = claudeConfigDir(env);
  const project = await claudeProjectDir(env, slotReal);
  const first = await fs.mkdir(project, { recursive: true });
  if (first) for (let dir = project; dir.length >= first.length; dir = path.dirname(dir)) created.unshift(dir);
  const mounts: Mount[] = [{ kind: 'rw', path: config }, { kind: 'tmpfs', path: path.join(config, 'projects') }, { kind: 'rw', path: project }];
  const dotJson = path.join(env.HOME || os.homedir(), '.claude.json');
  if (!env.CLAUDE_CONFIG_DIR && (await fs.pathExists(dotJson))) mounts.push({ kind: 'rw', path: dotJson });
  for (const name of OTHER_SESSIONS) if (await fs.pathExists(path.join(config, name))) mounts.push({ kind: 'tmpfs', path: path.join(config, name) });
  if (await fs.pathExists(path.join(config, 'history.jsonl'))) mounts.push({ kind: 'empty', path: path.join(config, 'history.jsonl') });
  return mounts;
}
