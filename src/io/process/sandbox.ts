// bubblewrap (`bwrap`): a private view of the filesystem for each agent, in milliseconds, with no
// daemon. This module knows bwrap alone: whether it works here (the probe), its version, the
// argv that gives a process the mounts core/agent/sandbox.ts chose, and how bwrap says it failed.
// Its two short commands run through ptg's process helper (node's execFile where it cannot): they
// come before the first agent, where loading execa would cost a run 80 ms and each fork of node 10.
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { canSpawn, runJob } from './spawner.js';

/** One thing the sandboxed process sees, at `path` inside (the same path as outside, or `source`). */
export type Mount =
  | { kind: 'ro' | 'rw'; path: string; source?: string }
  | { kind: 'tmpfs' | 'proc' | 'dev'; path: string }
  | { kind: 'symlink'; path: string; target: string }
  /** A file that reads empty and swallows writes: hides what it covers. */
  | { kind: 'empty'; path: string };

export interface BwrapOptions {
  /** The working directory inside. */
  cwd: string;
  /** As root, bwrap keeps every capability inside unless told: CAP_SYS_ADMIN could undo the mounts. */
  dropCapabilities: boolean;
  setenv?: Record<string, string>;
  /** `none`: a network namespace of its own, loopback alone (bwrap brings it up). Default: the machine's. */
  network?: 'shared' | 'none';
}

const FLAG: Record<'ro' | 'rw' | 'tmpfs' | 'proc' | 'dev', string> = { ro: '--ro-bind', rw: '--bind', tmpfs: '--tmpfs', proc: '--proc', dev: '--dev' };

/**
 * bwrap's flags (not its path) for a process that sees `mounts` and nothing else: its own PID
 * namespace, ended with its parent, the network shared unless `network` is none. Mounts go parents first (bwrap applies
 * them in order, and a tmpfs would cover what was bound under it before); of two at one path the
 * later wins; a bind inside one of the same kind is left out. The root is read-only at the end,
 * so a write outside what is bound fails rather than landing in bwrap's throw-away root.
 */
export function bwrapArgs(mounts: Mount[], opts: BwrapOptions): string[] {
  // No --new-session: a run's agents have no terminal (ptg starts them in a session of their
  // own), and a handoff's must keep the user's; a new session would also leave ptg's process group.
  const args = ['--unshare-pid', ...(opts.network === 'none' ? ['--unshare-net'] : []), '--die-with-parent', ...(opts.dropCapabilities ? ['--cap-drop', 'ALL'] : [])];
  const ordered = orderMounts(mounts);
  for (const m of ordered) {
    if (m.kind === 'symlink') args.push('--symlink', m.target, m.path);
    else if (m.kind === 'empty') args.push('--bind', '/dev/null', m.path);
    else if (m.kind === 'ro' || m.kind === 'rw') args.push(FLAG[m.kind], m.source ?? m.path, m.path);
    else args.push(FLAG[m.kind], m.path);
  }
  for (const dir of enclosingDirs(ordered)) args.push('--chmod', '0555', dir);
  for (const [name, value] of Object.entries(opts.setenv ?? {})) args.push('--setenv', name, value);
  args.push('--remount-ro', '/', '--chdir', opts.cwd);
  return args;
}

/**
 * The folders bwrap made inside a tmpfs (a private /tmp or $HOME) to reach a read-write bind: made
 * read-only, so that `echo > ../x` beside the slot fails as it would outside, rather than writing
 * to a throw-away folder and seeming to succeed.
 */
function enclosingDirs(mounts: Mount[]): string[] {
  const dirs = new Set<string>();
  for (const m of mounts) {
    if (m.kind !== 'rw') continue;
    const tmpfs = mounts.filter((t) => t.kind === 'tmpfs' && t.path !== m.path && inside(m.path, t.path)).sort((a, b) => depth(b.path) - depth(a.path))[0];
    if (!tmpfs) continue;
    const mounted = new Set(mounts.map((k) => k.path));
    for (let dir = path.dirname(m.path); dir !== tmpfs.path && inside(dir, tmpfs.path) && !mounted.has(dir); dir = path.dirname(dir)) dirs.add(dir);
  }
  return [...dirs];
}

const depth = (p: string) => (p === '/' ? 0 : p.split('/').length - 1);
const inside = (p: string, dir: string) => dir === '/' || p === dir || p.startsWith(`${dir}/`);

/** The mounts in the order bwrap must apply them, the redundant ones left out (see bwrapArgs). */
export function orderMounts(mounts: Mount[]): Mount[] {
  const last = new Map<string, Mount>();
  for (const m of mounts) {
    const p = path.resolve(m.path);
    last.delete(p);
    last.set(p, { ...m, path: p });
  }
  const sorted = [...last.values()].map((m, i) => ({ m, i })).sort((a, b) => depth(a.m.path) - depth(b.m.path) || a.i - b.i).map(({ m }) => m);
  const kept: Mount[] = [];
  for (const m of sorted) {
    const parent = kept.filter((k) => k.path !== m.path && inside(m.path, k.path)).sort((a, b) => depth(b.path) - depth(a.path))[0];
    const covered = parent && (m.kind === 'ro' || m.kind === 'rw') && !m.source && parent.kind === m.kind && !(parent as { source?: string }).source;
    if (!covered) kept.push(m);
  }
  return kept;
}

export type BwrapProbe = { ok: true; version: string } | { ok: false; cause: string };

/**
 * Does bwrap work here, with the namespaces ptg uses? It fails where user namespaces are not
 * allowed (a sysctl, AppArmor, a container without them) with its own message, which is the cause;
 * with `unshareNet`, also where a network namespace is not (a run that limits the network needs one).
 */
export async function probeBwrap(bwrap: string, dropCapabilities: boolean, unshareNet = false): Promise<BwrapProbe> {
  const flags = ['--unshare-pid', ...(unshareNet ? ['--unshare-net'] : []), '--die-with-parent', ...(dropCapabilities ? ['--cap-drop', 'ALL'] : []), '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', 'true'];
  const [started, version] = await Promise.all([quick(bwrap, flags), quick(bwrap, ['--version'])]);
  if (!started.ok) return { ok: false, cause: `bubblewrap cannot start a sandbox here: ${started.message}` };
  return { ok: true, version: /(\d+(?:\.\d+)+)/.exec(version.output)?.[1] ?? (version.output.trim() || 'unknown') };
}

/**
 * bwrap exits with 128 + n when what it ran died of signal n: the exit as if unwrapped, so that an
 * agent the OOM killer ended reads `SIGKILL` inside the sandbox as outside.
 */
export function unwrapExit<T extends { exitCode?: number; signal?: string }>(exit: T): T {
  const code = exit.exitCode ?? 0;
  const name = code > 128 ? Object.entries(os.constants.signals).find(([, n]) => n === code - 128)?.[0] : undefined;
  return name ? { ...exit, exitCode: undefined, signal: name } : exit;
}

/** bwrap's own error (`bwrap: Can't find source path …`) when the sandbox never started, from the process's stderr. */
export function bwrapFailure(stderr: string): string | undefined {
  const line = stderr.split('\n').find((l) => l.trim());
  return line?.startsWith('bwrap: ') ? line.trim() : undefined;
}

async function quick(cmd: string, args: string[]): Promise<{ ok: boolean; output: string; message: string }> {
  const { ok, stdout, stderr, error } = canSpawn({})
    ? await runJob({ command: cmd, args }).then(
        (r) => ({ ok: r.status === 0, stdout: r.stdout, stderr: r.stderr, error: `it exited with status ${r.status}` }),
        (e: Error) => ({ ok: false, stdout: '', stderr: '', error: e.message }),
      )
    : await new Promise<{ ok: boolean; stdout: string; stderr: string; error: string }>((resolve) =>
        execFile(cmd, args, { timeout: 10_000, encoding: 'utf8' }, (e, stdout, stderr) => resolve({ ok: !e, stdout, stderr, error: e ? String(e.message) : '' })),
      );
  const message = bwrapFailure(stderr)?.replace(/^bwrap: /, '') ?? (stderr.trim().split('\n')[0] || (ok ? '' : error.split('\n')[0]));
  return { ok, output: `${stdout}${stderr}`, message: message || 'it exited with an error' };
}
