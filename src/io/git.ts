// Every git operation ptg performs, one small function each. simple-git for most commands; gitRaw
// (through ptg's process helper) for those around every agent and setup's per-slot steps, where
// each process costs the wall time, and where output must stream to a file (diffs can be hundreds
// of MB).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import fs from 'fs-extra';
import type { SimpleGit } from 'simple-git';
import { PtgError } from '../errors.js';
import { canSpawn, runJob } from './process/spawner.js';

// Loaded when first used (25 ms): a run's path around its agents goes through gitRaw alone.
async function git(dir?: string): Promise<SimpleGit> {
  const { simpleGit } = await import('simple-git');
  return dir === undefined ? simpleGit() : simpleGit({ baseDir: dir, config: ['core.quotePath=false'] });
}

/**
 * git through ptg's process helper (node's own spawn where it cannot serve), for the steps around
 * every agent: no execa to load (80 ms before the first experiment's record) and no simple-git
 * queue (five processes at once) in their way; simple-git's environment guard also refuses a copy
 * of process.env with GIT_INDEX_FILE. `env` is added to ptg's own; `argv` runs that instead of git
 * (a shell running several git commands).
 */
function gitRaw(dir: string, args: string[], opts: { env?: Record<string, string>; argv?: string[] } = {}): Promise<string> {
  const [command, ...rest] = opts.argv ?? ['git', ...args];
  const env = opts.env && { ...process.env, ...opts.env };
  const failed = (code: number | string, stderr: string) =>
    new Error(`${opts.argv ? 'git' : `git ${args.filter((a) => !a.startsWith('core.') && a !== '-c')[0]}`} exited with ${code}\n${stderr.trim()}`);
  // Through ptg's process helper (io/process/spawner.ts): no fork of ptg for each git.
  if (canSpawn({ env })) {
    return runJob({ command: command!, args: rest, cwd: dir, env }).then((r) => {
      if (r.status === 0) return r.stdout;
      throw failed(r.status, r.stderr);
    });
  }
  return new Promise((resolve, reject) => {
    const child = spawn(command!, rest, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(stdout).toString());
      reject(failed(code ?? signal!, Buffer.concat(stderr).toString()));
    });
  });
}

/** git's own words, last line first: "fatal: repository '...' not found". */
export function gitReason(error: unknown): string {
  const text = String((error as Error)?.message ?? error).trim();
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => l.startsWith('fatal:')) ?? lines.at(-1) ?? text;
}

/**
 * Makes or updates the bare mirror that is the workspace's one network transfer, and resolves
 * `ref` (default: the upstream's HEAD) to a commit.
 */
export async function updateMirror(mirrorDir: string, url: string, ref?: string): Promise<string> {
  try {
    if (!(await fs.pathExists(path.join(mirrorDir, 'HEAD')))) {
      await fs.remove(mirrorDir);
      await fs.ensureDir(path.dirname(mirrorDir));
      // A mirror's objects are shared by hard links with every slot: never prune them (gc.auto 0,
      // set by the clone itself: one process fewer before the slots can start).
      await gitRaw(path.dirname(mirrorDir), ['clone', '--bare', '--quiet', '--config', 'gc.auto=0', '--', url, mirrorDir]);
    } else {
      await gitRaw(mirrorDir, [], {
        argv: ['/bin/sh', '-c', 'git remote set-url origin "$1" && git fetch --quiet --tags --force origin "+refs/heads/*:refs/heads/*"', 'ptg', url],
      });
    }
  } catch (error) {
    throw new PtgError(`Cannot fetch ${url}: ${gitReason(error)}`, 1);
  }
  const wanted = ref ?? 'HEAD';
  try {
    return (await gitRaw(mirrorDir, ['rev-parse', '--verify', '--quiet', `${wanted}^{commit}`])).trim();
  } catch {
    throw new PtgError(`Ref "${wanted}" is not a branch, tag or commit of ${url}.`, 2);
  }
}

/** True when `dir` is the top of a git work tree (not merely inside one). */
export async function isCheckout(dir: string): Promise<boolean> {
  if (!(await fs.pathExists(path.join(dir, '.git')))) return false;
  try {
    const top = (await gitRaw(dir, ['rev-parse', '--show-toplevel'])).trim();
    return path.resolve(top) === (await fs.realpath(dir));
  } catch {
    return false;
  }
}

/** How much of the base's history a slot holds: its ancestry (`base`), or the one commit (`none`). */
export type History = 'base' | 'none';

/**
 * A checkout of `commit` that holds the commit and its ancestors only (`history` none: the commit
 * alone): no remote, no branch, no tag, nothing later. An agent that runs `git log --all` sees no
 * test written after its base, and there is no origin to fetch one from. One shell runs every git
 * step: each process ptg itself starts holds its event loop until the child has exec'd.
 */
export async function cloneSlot(mirrorDir: string, slotDir: string, commit: string, history: History = 'base'): Promise<void> {
  const script = [
    'set -e',
    'git init --quiet -- "$2"',
    'cd "$2"',
    'git config gc.auto 0',
    `git fetch --quiet --no-tags --no-write-fetch-head ${history === 'none' ? '--depth 1 ' : ''}-- "$1" "$3"`,
    'git checkout --quiet --detach "$3"',
  ].join('\n');
  await gitRaw(path.dirname(slotDir), [], { argv: ['/bin/sh', '-c', script, 'ptg', mirrorDir, slotDir, commit] });
}

/** Brings `commit` into an existing slot from the local mirror, by its id: no ref, no tag, nothing after it. */
export async function fetchFromMirror(slotDir: string, mirrorDir: string, commit: string): Promise<void> {
  if (await hasCommit(slotDir, commit)) return;
  const depth = (await isShallow(slotDir)) ? ['--depth', '1'] : [];
  await gitRaw(slotDir, ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', ...depth, '--', mirrorDir, commit]);
}

/** The slot holds one commit of history (`history` none): git's shallow file is there. */
export async function isShallow(dir: string): Promise<boolean> {
  return fs.pathExists(path.join(await gitDirOf(dir), 'shallow'));
}

/**
 * What in a slot reaches past `commit`: a remote, a ref (HEAD is detached at the base: a branch
 * or a tag is an older clone's, or an agent's), or a commit that is no ancestor of `commit` (in
 * the reflog, or left loose). An empty list: the slot shows its base and what came before.
 */
export async function pastBase(dir: string, commit: string): Promise<string[]> {
  const script = [
    'git remote',
    'git for-each-ref --format="%(refname)"',
    'echo ---',
    'git rev-list --count --all --reflog --not "$1"',
  ].join('\n');
  const [head, counts] = (await gitRaw(dir, [], { argv: ['/bin/sh', '-c', script, 'ptg', commit] })).split('---\n');
  const names = head!.split('\n').filter(Boolean);
  const later = Number(counts!.trim());
  const found: string[] = [];
  const remotes = names.filter((n) => !n.startsWith('refs/'));
  if (remotes.length) found.push(`remote ${remotes.join(', ')}`);
  const refs = names.filter((n) => n.startsWith('refs/'));
  if (refs.length) found.push(`${refs.length} ref${refs.length === 1 ? '' : 's'} (${refs.slice(0, 3).join(', ')}${refs.length > 3 ? ', …' : ''})`);
  if (later) found.push(`${later} commit${later === 1 ? '' : 's'} that are not the base's ancestors`);
  return found;
}

/**
 * Rebuilds a slot's repository as cloneSlot makes one, around its work tree (clean, on `commit`):
 * for a slot that `pastBase` found reaching past its base (a clone made by an older ptg, one an
 * agent fetched into) or one whose `history` changes. Its excludes stay; the old repository is
 * put back if the new one cannot be made.
 */
export async function trimSlot(dir: string, mirrorDir: string, commit: string, history: History = 'base'): Promise<void> {
  const script = [
    'set -e',
    'rm -rf .git.ptg-old; mv .git .git.ptg-old',
    'restore() { rm -rf .git; mv .git.ptg-old .git; exit 1; }',
    'git init --quiet . || restore',
    'cp .git.ptg-old/info/exclude .git/info/exclude 2>/dev/null || true',
    'git config gc.auto 0',
    `git fetch --quiet --no-tags --no-write-fetch-head ${history === 'none' ? '--depth 1 ' : ''}-- "$1" "$2" || restore`,
    'git update-ref --no-deref HEAD "$2" && git reset --quiet || restore',
    'rm -rf .git.ptg-old',
  ].join('\n');
  await gitRaw(dir, [], { argv: ['/bin/sh', '-c', script, 'ptg', mirrorDir, commit] });
}

/**
 * After an agent moved HEAD (its commits, now kept in the mirror): the slot forgets them, so the
 * next agent there cannot find them in a ref, the reflog or a loose object.
 */
export async function forgetMoves(dir: string): Promise<void> {
  const script = [
    'git for-each-ref --format="delete %(refname)" | git update-ref --stdin',
    'git reflog expire --expire=now --expire-unreachable=now --all',
    'git prune --expire=now',
  ].join('\n');
  await gitRaw(dir, [], { argv: ['/bin/sh', '-c', `set -e\n${script}`] });
}

/** Keeps `commit` of a slot reachable in the mirror, under refs/ptg/kept/<name>: nothing is lost, and the slot holds no ref to it. */
export async function keepInMirror(dir: string, mirrorDir: string, name: string, commit: string): Promise<void> {
  await gitRaw(dir, ['push', '--quiet', '--no-verify', '--', mirrorDir, `+${commit}:refs/ptg/kept/${name}`]);
}

/**
 * A throwaway checkout of `commit` that borrows the mirror's objects (`--shared`): nothing is
 * copied, nothing in the mirror changes, and removing the folder is all its clean-up. The mirror
 * never collects garbage (`gc.auto` 0), so the objects stay while the checkout lives.
 */
export async function throwawayCheckout(mirrorDir: string, dir: string, commit: string): Promise<void> {
  await (await git()).clone(mirrorDir, dir, ['--quiet', '--shared', '--no-checkout']);
  await (await git(dir)).checkout(['--quiet', '--detach', commit]);
}

/** Brings `commit` into the mirror from its origin: by its id, else with every branch and tag (a server may refuse an id it does not advertise). */
export async function fetchCommitIntoMirror(mirrorDir: string, commit: string): Promise<void> {
  try {
    await (await git(mirrorDir)).fetch(['--quiet', 'origin', commit]);
  } catch {
    await (await git(mirrorDir)).fetch(['--quiet', '--tags', '--force', 'origin', '+refs/heads/*:refs/heads/*']);
  }
}

export async function hasCommit(dir: string, commit: string): Promise<boolean> {
  try {
    await (await git(dir)).raw(['cat-file', '-e', `${commit}^{commit}`]);
    return true;
  } catch {
    return false;
  }
}

/** Applies a patch of `diffWorktree`'s (binary parts, new and deleted files) to the work tree, not the index. */
export async function applyPatch(dir: string, patchFile: string): Promise<void> {
  // git refuses an empty patch ("No valid patches in input"): an agent that changed nothing left one.
  if ((await fs.stat(patchFile)).size === 0) return;
  await (await git(dir)).raw(['apply', '--whitespace=nowarn', patchFile]);
}

export async function headCommit(dir: string): Promise<string> {
  return (await (await git(dir)).revparse(['HEAD'])).trim();
}

/**
 * Moves the slot to `commit` and removes untracked files that are not ignored, so an experiment
 * starts from exactly the base. Excluded folders (.claude, .venv, experiment folders) stay.
 * Callers save the work first.
 */
export async function resetTo(dir: string, commit: string): Promise<void> {
  // One shell for both: it runs before every experiment that follows another in its slot.
  await gitRaw(dir, [], { argv: ['/bin/sh', '-c', 'git checkout --quiet --force --detach "$1" && git clean --quiet -fd', 'ptg', commit] });
}

export interface WorktreeStatus {
  head?: string;
  /** No change to a tracked file and no untracked file that is not ignored. */
  clean: boolean;
  /**
   * Untracked paths in ignored places (an ignored folder is one entry, `name/`): where an agent's
   * caches and outputs hide from `git status` and from the reset.
   */
  ignored: string[];
}

/** HEAD, whether the work tree is clean, and what sits in ignored paths: one git process. */
export async function worktreeStatus(dir: string): Promise<WorktreeStatus> {
  return parseStatus(await gitRaw(dir, ['-c', 'core.quotePath=false', ...STATUS]));
}

const STATUS = ['status', '--porcelain=v2', '--branch', '--untracked-files=normal', '--ignored=traditional', '--no-renames', '-z'];

function parseStatus(out: string): WorktreeStatus {
  const entries = out.split('\0').filter(Boolean);
  return {
    head: entries.find((e) => e.startsWith('# branch.oid '))?.slice('# branch.oid '.length),
    clean: entries.every((e) => e.startsWith('# ') || e.startsWith('! ')),
    ignored: entries.filter((e) => e.startsWith('! ')).map((e) => e.slice(2)),
  };
}

/** The work tree's modified and new files (not ignored ones, not deleted ones), repository paths. */
export async function changedPaths(dir: string): Promise<string[]> {
  const out = await (await git(dir)).raw(['status', '--porcelain=v1', '--untracked-files=all', '--no-renames', '-z']);
  return out.split('\0').filter(Boolean).filter((e) => !e.startsWith(' D') && !e.startsWith('D ')).map((e) => e.slice(3));
}

/** Puts `paths` back as they are at `commit`: checked out where tracked there, else removed. */
export async function restorePaths(dir: string, commit: string, paths: string[]): Promise<void> {
  if (paths.length === 0) return;
  const tracked = (await (await git(dir)).raw(['ls-tree', '-r', '--name-only', '-z', commit, '--', ...paths])).split('\0').filter(Boolean);
  if (tracked.length) await (await git(dir)).raw(['checkout', commit, '--', ...tracked]);
  for (const p of paths.filter((p) => !tracked.includes(p))) await fs.remove(path.join(dir, p));
}

/** Tracked files of `commit` whose name is `name` (CLAUDE.md), at any depth, repository paths. */
export async function filesNamed(dir: string, commit: string, name: string): Promise<string[]> {
  const out = await gitRaw(dir, ['-c', 'core.quotePath=false', 'ls-tree', '-r', '--name-only', '-z', commit]);
  return out.split('\0').filter((p) => p === name || p.endsWith(`/${name}`));
}

/** The folder has a git repository of its own (without one, git would act on a parent's). */
export async function hasOwnRepository(dir: string): Promise<boolean> {
  return fs.pathExists(path.join(dir, '.git'));
}

/** The git folder of the checkout `dir`. */
async function gitDirOf(dir: string): Promise<string> {
  // Slots are plain clones: their git folder is .git, and asking git costs a process per call.
  const dotGit = path.join(dir, '.git');
  if ((await fs.stat(dotGit).catch(() => undefined))?.isDirectory()) return dotGit;
  return (await gitRaw(dir, ['rev-parse', '--absolute-git-dir'])).trim();
}

/** Appends ptg's patterns to `.git/info/exclude` once. */
export async function ensureExcluded(dir: string, patterns: string[]): Promise<void> {
  const file = path.join(await gitDirOf(dir), 'info', 'exclude');
  const text = (await fs.readFile(file, 'utf8').catch(() => '')) as string;
  const lines = new Set(text.split('\n'));
  const missing = patterns.filter((p) => !lines.has(p));
  if (missing.length === 0) return;
  const header = text.includes('# ptg') ? '' : '# ptg: experiment folders, installed commands, the Python env\n';
  await fs.outputFile(file, `${text}${text && !text.endsWith('\n') ? '\n' : ''}${header}${missing.join('\n')}\n`);
}

/**
 * Runs `script` (sh, with `args` as $1, $2, …) on a copy of the slot's index that first takes in
 * the whole work tree (`git add --all`), so the real index and the work tree stay untouched. The
 * copy starts from the real index so unchanged files are not hashed again. One shell runs every
 * git command of the step: each process ptg itself starts holds its event loop until the child
 * has exec'd (libuv waits for it), 2 ms on an idle machine and 5 ms on a busy one, per process.
 * Returns what the script printed.
 */
async function onWorktreeIndex(dir: string, script: string, args: string[]): Promise<string> {
  const gitDir = await gitDirOf(dir);
  const index = path.join(gitDir, `ptg-index-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const real = path.join(gitDir, 'index');
    const stat = await fs.stat(real).catch(() => undefined);
    if (stat) {
      await fs.copyFile(real, index);
      // git trusts an entry's stat data only when the file is older than the index itself (its
      // "racy git" check): a copy with a fresh mtime would hide a same-size rewrite made within
      // the index's second, and leave it out of the patch.
      await fs.utimes(index, stat.atime, stat.mtime);
    }
    return await shell(dir, `set -e\ngit -c core.quotePath=false add --all -- .\n${script}`, args, { GIT_INDEX_FILE: index });
  } finally {
    await fs.promises.unlink(index).catch(() => undefined);
  }
}

/** `sh -c script` in `dir` with `args` as $1…; its stdout, or an error with its stderr. */
function shell(dir: string, script: string, args: string[], env: Record<string, string>): Promise<string> {
  return gitRaw(dir, [], { env, argv: ['/bin/sh', '-c', script, 'ptg', ...args] });
}

/** The tree id of the work tree as it is now, uncommitted changes and new files included. */
export async function worktreeTree(dir: string): Promise<string> {
  return (await onWorktreeIndex(dir, 'git write-tree', [])).trim();
}

/** The work tree's tree id (worktreeTree) and `commit`'s, from one shell. */
export async function worktreeAndCommitTrees(dir: string, commit: string): Promise<{ worktree: string; commit: string }> {
  const [worktree, tree] = (await onWorktreeIndex(dir, 'git write-tree\ngit rev-parse --verify --quiet "$1^{tree}"', [commit])).trim().split('\n');
  return { worktree: worktree!, commit: tree! };
}

/**
 * A dirty slot's reset, before every experiment that follows another in its slot, in one shell:
 * when the work tree (its tree id, as worktreeTree) is `commit`'s or one of `known` (what the
 * slot's last record saw), nothing in it is unrecorded, and the checkout of `commit` and the clean
 * (resetTo) follow at once. Returns whether it reset; if not, the work tree holds something new.
 */
export async function resetIfKnown(dir: string, commit: string, known: string[]): Promise<boolean> {
  const script = [
    'tree=$(git write-tree); base=$(git rev-parse --verify --quiet "$1^{tree}")',
    'case " $base $2 " in *" $tree "*) ;; *) exit 0 ;; esac',
    // The checkout and the clean act on the slot's own index, not on the copy.
    'unset GIT_INDEX_FILE; git checkout --quiet --force --detach "$1"; git clean --quiet -fd; echo reset',
  ].join('\n');
  return (await onWorktreeIndex(dir, script, [commit, known.join(' ')])).trim() === 'reset';
}

export interface ChangedFile {
  /** A added, M modified, D deleted, T type change. */
  status: string;
  path: string;
}

/**
 * Writes everything that differs between `base` and the work tree (commits, uncommitted
 * changes and new files) to `patchFile` as a binary-safe patch, streamed, and returns the
 * changed files, the tree id of the work tree and what sits in ignored paths. When HEAD is `base`
 * (an agent that made no commit), git status on the copy of the index, which then holds the work
 * tree, names the changed files as `git diff --cached --name-status` would: one git process fewer.
 */
export async function diffWorktree(dir: string, base: string, patchFile: string): Promise<{ files: ChangedFile[]; tree: string; ignored: string[] }> {
  const [namesFile, statusFile] = ['names', 'status'].map((what) => `${patchFile}.${what}-${process.pid}`) as [string, string];
  const headIsBase = (await fs.readFile(path.join(dir, '.git', 'HEAD'), 'utf8').catch(() => '')).trim() === base;
  try {
    const tree = await onWorktreeIndex(
      dir,
      [
        'git diff --cached --binary --no-color --no-ext-diff "$1" > "$2"',
        ...(headIsBase ? [] : ['git -c core.quotePath=false diff --cached --name-status --no-renames -z "$1" > "$3"']),
        // What is ignored does not depend on the index: the copy's answer is the slot's.
        `git -c core.quotePath=false ${STATUS.join(' ')} > "$4"`,
        'git write-tree',
      ].join('\n'),
      [base, patchFile, namesFile, statusFile],
    );
    const status = await fs.readFile(statusFile, 'utf8');
    const files = headIsBase ? stagedOf(status) : namesOf(await fs.readFile(namesFile, 'utf8'));
    return { files, tree: tree.trim(), ignored: parseStatus(status).ignored };
  } finally {
    await Promise.all([namesFile, statusFile].map((file) => fs.promises.unlink(file).catch(() => undefined)));
  }
}

/** `git diff --name-status -z`: status, path, status, path… */
function namesOf(out: string): ChangedFile[] {
  const fields = out.split('\0');
  const files: ChangedFile[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) files.push({ status: fields[i]!, path: fields[i + 1]! });
  return files;
}

/** The staged changes in `git status --porcelain=v2 -z` (`1 XY sub mH mI mW hH hI path`), in its order, which is the diff's. */
function stagedOf(out: string): ChangedFile[] {
  const files: ChangedFile[] = [];
  for (const entry of out.split('\0')) {
    if (!entry.startsWith('1 ') || entry[2] === '.') continue;
    files.push({ status: entry[2]!, path: entry.split(' ').slice(8).join(' ') });
  }
  return files;
}

/**
 * Commits every file of `work` as the one commit of `main` and clones that into the bare
 * repository `bare`. A fixed identity and date make the commit id the same on every machine.
 */
export async function commitFolderAsBare(work: string, bare: string, message: string): Promise<void> {
  const who = { name: 'ptg demo', email: 'demo@ptg.invalid', date: '2026-01-01T00:00:00Z' };
  const env = {
    GIT_AUTHOR_NAME: who.name,
    GIT_AUTHOR_EMAIL: who.email,
    GIT_AUTHOR_DATE: who.date,
    GIT_COMMITTER_NAME: who.name,
    GIT_COMMITTER_EMAIL: who.email,
    GIT_COMMITTER_DATE: who.date,
  };
  const { execa } = await import('execa');
  const run = (cwd: string, args: string[]) =>
    execa('git', ['-c', 'commit.gpgsign=false', '-c', 'core.hooksPath=/dev/null', '-c', 'core.autocrlf=false', ...args], { cwd, env, stdin: 'ignore' });
  try {
    await run(work, ['init', '-q']);
    await run(work, ['symbolic-ref', 'HEAD', 'refs/heads/main']); // `init -b` needs git 2.28
    await run(work, ['add', '-A']);
    await run(work, ['commit', '-q', '-m', message]);
    await run(path.dirname(bare), ['clone', '-q', '--bare', work, bare]);
  } catch (error) {
    throw new PtgError(`Cannot make the repository ${bare}: ${gitReason(error)}`);
  }
}

/** `git --version`, for doctor. */
export async function gitVersion(): Promise<string> {
  return (await (await git()).raw(['--version'])).trim();
}
