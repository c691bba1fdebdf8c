// What an agent (and a check on what it wrote) may see of the machine: its slot read-write; the
// system, its own program, Node and the slot's Python read-only; a private /tmp and $HOME; its own
// /proc; the network the run allows (core/agent/network.ts); Claude Code's configuration and a
// session folder of its own. Not the other slots, the workspace's records, the rest of the user's
// home, other Claude Code sessions. The choice (auto, bwrap, none) and the view are decided here;
// io/process/sandbox.ts speaks to bwrap, io/process/net-proxy.ts serves an allow-list.
import os from 'node:os';
import path from 'node:path';
import fs from 'fs-extra';
import { UsageError } from '../../errors.js';
import { which } from '../../io/process/proc.js';
import { PYRIGHT_DIR } from '../../io/pyright.js';
import { bwrapArgs, type Mount, probeBwrap } from '../../io/process/sandbox.js';
import { BRIDGE, PROXY_PORT, PROXY_SOCKET, startProxy } from '../../io/process/net-proxy.js';
import { allows, type HostRule, namesLoopback, type Network, NETWORK_OFF, NETWORK_ON, networkRecord, parseNetwork, withModelApi } from './network.js';
import { claudeConfigDir, claudeProjectDir } from './claude-store.js';
import { networkText, type SandboxRecord } from '../workspace/manifest.js';

export const SANDBOX_MODES = ['auto', 'bwrap', 'none'] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

/** What the user asked for, and where that came from: the flag, then PTG_SANDBOX, then the config. */
export interface SandboxSettings {
  mode: SandboxMode;
  source: '--sandbox' | 'PTG_SANDBOX' | 'config' | 'default';
  /** Absolute paths added to the view (sandbox.readOnly / --sandbox-ro, sandbox.readWrite / --sandbox-rw). */
  readOnly: string[];
  readWrite: string[];
  /** What agents reach of the network (--network, the version's then the config's sandbox.network; default on), and who said so. */
  network: Network;
  networkSource: string;
  /** What checks reach (sandbox.checkNetwork; default off: a check needs only the slot). */
  checkNetwork: Network;
  /** Add the model API's host to an agent's allow-list (config sandbox.modelApi; default yes). */
  modelApi: boolean;
}

export const DEFAULT_SANDBOX: SandboxSettings = { mode: 'auto', source: 'default', readOnly: [], readWrite: [], network: NETWORK_ON, networkSource: 'default', checkNetwork: NETWORK_OFF, modelApi: true };


export interface Sandbox {
  record: SandboxRecord;
  /** `auto` found no working bubblewrap: the one line that says so and how to get one. */
  warning?: string;
  /** With bubblewrap: its path, what every view holds, and the agent whose real path runs inside. */
  bwrap?: string;
  base?: Mount[];
  env: NodeJS.ProcessEnv;
  agent?: { path: string; real: string };
  /** The agents' network (with the model API's host in an allow-list) and the checks'. */
  network: Network;
  checkNetwork: Network;
}

const SOURCE_NAME: Record<SandboxSettings['source'], string> = { '--sandbox': '--sandbox', PTG_SANDBOX: 'PTG_SANDBOX', config: '"sandbox" in ptg.config.json', default: 'the default' };

type NetworkGiven = string | string[];

/**
 * `--sandbox` over `PTG_SANDBOX` over the config's `sandbox` (a mode, or `{ mode, readOnly,
 * readWrite, network, checkNetwork }`), else auto. Paths: `~/…` in the home folder; others
 * relative to the root folder (the config's) or the current one (the flags'). The network:
 * `--network` over the version's `sandbox.network` over the config's, else on.
 */
export function sandboxSettings(
  flags: { sandbox?: string; sandboxRo?: string[]; sandboxRw?: string[]; network?: string },
  env: NodeJS.ProcessEnv,
  config: string | { mode?: string; readOnly?: string[]; readWrite?: string[]; network?: NetworkGiven; checkNetwork?: NetworkGiven; modelApi?: boolean } | undefined,
  dirs: { root: string; cwd: string },
  version?: { name: string; network?: NetworkGiven },
): SandboxSettings {
  const fromConfig = typeof config === 'string' ? { mode: config } : (config ?? {});
  const [given, source] = flags.sandbox !== undefined ? [flags.sandbox, '--sandbox' as const] : env.PTG_SANDBOX ? [env.PTG_SANDBOX, 'PTG_SANDBOX' as const] : fromConfig.mode ? [fromConfig.mode, 'config' as const] : ['auto', 'default' as const];
  if (!(SANDBOX_MODES as readonly string[]).includes(given)) {
    throw new UsageError(`${source === 'PTG_SANDBOX' ? `PTG_SANDBOX=${given}` : source === 'config' ? `ptg.config.json: "sandbox": "${given}"` : `--sandbox ${given}`}: choose auto, bwrap or none.`);
  }
  const home = env.HOME || os.homedir();
  const resolve = (base: string) => (p: string) => (p === '~' ? home : p.startsWith('~/') ? path.join(home, p.slice(2)) : path.resolve(base, p));
  const [network, networkSource]: [NetworkGiven, string] =
    flags.network !== undefined
      ? [flags.network, '--network']
      : version?.network !== undefined
        ? [version.network, `ptg.config.json: "versions.${version.name}.sandbox.network"`]
        : fromConfig.network !== undefined
          ? [fromConfig.network, 'ptg.config.json: "sandbox.network"']
          : ['on', 'default'];
  return {
    network: parseNetwork(network, networkSource),
    networkSource,
    checkNetwork: fromConfig.checkNetwork === undefined ? NETWORK_OFF : parseNetwork(fromConfig.checkNetwork, 'ptg.config.json: "sandbox.checkNetwork"'),
    modelApi: fromConfig.modelApi ?? true,
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
  const limited = settings.network.kind !== 'on';
  const unsandboxed = (record: SandboxRecord) => ({ env, record: { ...record, network: 'on' as const }, network: NETWORK_ON, checkNetwork: NETWORK_ON });
  // Without bubblewrap nothing can hold the network back: a run that asked it to is refused, never run open.
  const noLimit = (why: string) => new UsageError(`${settings.networkSource} ${networkText(networkRecord(settings.network))}: limiting the network needs the bubblewrap sandbox, and ${why}. Choose --sandbox bwrap, or leave the network on.`);
  if (settings.mode === 'none') {
    if (limited) throw noLimit(`${SOURCE_NAME[settings.source]} says none`);
    return unsandboxed({ kind: 'none', reason: `${settings.source === 'config' ? 'ptg.config.json says' : SOURCE_NAME[settings.source]} none` });
  }
  for (const p of [...settings.readOnly, ...settings.readWrite]) {
    if (!(await fs.pathExists(p))) throw new UsageError(`The sandbox cannot show ${p} to the agent: there is no such file or folder (sandbox.readOnly/readWrite, --sandbox-ro/--sandbox-rw).`);
  }
  const asked = limited || settings.checkNetwork.kind === 'allow';
  const cause = await bwrapCause(env, asked);
  if (typeof cause === 'string') {
    if (settings.mode === 'bwrap') {
      throw new UsageError(`--sandbox bwrap (from ${SOURCE_NAME[settings.source]}): ${cause}. Install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap), or choose --sandbox none.`);
    }
    if (limited) throw noLimit(cause);
    return {
      ...unsandboxed({ kind: 'none', reason: cause }),
      warning: `agents run without a sandbox: ${cause}; install bubblewrap (apt-get install bubblewrap) to give each its own view of the machine, or say --sandbox none.`,
    };
  }
  const agent = opts.agentPath ? { path: opts.agentPath, real: await fs.realpath(opts.agentPath).catch(() => opts.agentPath!) } : undefined;
  const base = await baseMounts(settings, env, opts.workspace, agent?.real);
  const network = settings.modelApi ? withModelApi(settings.network, env) : settings.network;
  // Checks go without a network only where bubblewrap can make one (not in every container).
  const checkNetwork = settings.checkNetwork.kind === 'off' && !cause.ownNetwork ? NETWORK_ON : settings.checkNetwork;
  const record: SandboxRecord = { kind: 'bwrap', version: cause.version, network: networkRecord(network), checkNetwork: networkRecord(checkNetwork) };
  return { env, record, bwrap: cause.bwrap, base, agent, network, checkNetwork };
}

/**
 * Why bubblewrap cannot be used here, or its path, version and whether it can give a process a
 * network of its own; `needNetwork`: that is asked of it, and it fails without.
 */
async function bwrapCause(env: NodeJS.ProcessEnv, needNetwork: boolean): Promise<string | { bwrap: string; version: string; ownNetwork: boolean }> {
  if (process.platform !== 'linux') return `bubblewrap is for Linux only (this is ${process.platform})`;
  const bwrap = await which('bwrap', env.PATH);
  if (!bwrap) return 'bubblewrap (bwrap) is not on PATH';
  const probe = await probeBwrap(bwrap, isRoot(), true);
  if (probe.ok) return { bwrap, version: probe.version, ownNetwork: true };
  if (needNetwork) return probe.cause;
  const shared = await probeBwrap(bwrap, isRoot());
  return shared.ok ? { bwrap, version: shared.version, ownNetwork: false } : shared.cause;
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
  /** With an allow-list: the `host:port`s asked for and refused so far. */
  refused: string[];
  /** Stops the view's proxy; removes the folders ptg made for the view that are still empty. */
  cleanup(): Promise<void>;
}

/**
 * One process's view, for a slot: the run's base, the slot read-write (its .git/config and hooks
 * read-only: git runs them for ptg outside the sandbox), the base of its .venv's Python, `readOnly`
 * read-only (the STP), and with `agent` Claude Code's configuration with a session folder of the
 * slot's own; the agents' network with `agent`, else the checks'. Undefined without bubblewrap.
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
  const network = target.agent ? sandbox.network : sandbox.checkNetwork;
  const proxy = network.kind === 'allow' ? await startProxy((host, port) => allows(network.hosts, host, port)) : undefined;
  if (proxy) mounts.push({ kind: 'rw', path: PROXY_SOCKET, source: proxy.socket });
  const setenv = { ...(sandbox.env.TMPDIR ? { TMPDIR: '/tmp' } : {}), ...(network.kind === 'allow' ? proxyEnv(network.hosts) : {}) };
  const args = bwrapArgs(mounts, { cwd: real, dropCapabilities: isRoot(), setenv, network: network.kind === 'on' ? 'shared' : 'none' });
  // With a proxy, the bridge runs first: it listens on the sandbox's loopback, then runs the command.
  const bridge = proxy ? [process.execPath, '-e', BRIDGE, PROXY_SOCKET, String(PROXY_PORT)] : [];
  const { bwrap, agent } = sandbox;
  return {
    wrap: (command, rest) => ({ command: bwrap, args: [...args, '--', ...bridge, command === agent?.path ? agent.real : command, ...rest] }),
    refused: proxy?.refused ?? [],
    cleanup: async () => {
      await proxy?.close();
      for (const dir of created.reverse()) await fs.rmdir(dir).catch(() => undefined);
    },
  };
}

/**
 * The standard proxy variables, both cases (curl reads http_proxy alone, others the capitals;
 * Node 24 with NODE_USE_ENV_PROXY). Loopback goes direct (what the agent serves itself) unless
 * the list names it: then it is this machine's, reached through the proxy.
 */
function proxyEnv(hosts: HostRule[]): Record<string, string> {
  const url = `http://127.0.0.1:${PROXY_PORT}`;
  const direct = namesLoopback(hosts) ? '' : 'localhost,127.0.0.1,::1';
  const env: Record<string, string> = { NODE_USE_ENV_PROXY: '1' };
  for (const name of ['http_proxy', 'https_proxy', 'all_proxy']) env[name] = env[name.toUpperCase()] = url;
  env.no_proxy = env.NO_PROXY = direct;
  return env;
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
