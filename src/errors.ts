/** An error the user can act on: its message is printed as one line, its code is the exit code. */
export class PtgError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = 'PtgError';
  }
}

/** Bad input or a refusal before anything started: exit 2. */
export class UsageError extends PtgError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/** Exit codes, in one place. A signal's is 128 + its number, as a shell reports a process it ended. */
/** `usageLimit`: a run stopped at the agent's usage limit, to be resumed later (sysexits' EX_TEMPFAIL). */
export const EXIT = { ok: 0, failed: 1, usage: 2, usageLimit: 75, hangup: 129, interrupted: 130, terminated: 143 } as const;

const SIGNAL_EXIT: Record<string, number> = { SIGHUP: EXIT.hangup, SIGINT: EXIT.interrupted, SIGTERM: EXIT.terminated };

/** The exit code of a ptg that `signal` (an abort reason: the signal's name) wound down; Ctrl-C's when it is none of the three. */
export function exitForSignal(signal: unknown): number {
  return SIGNAL_EXIT[String(signal)] ?? EXIT.interrupted;
}

/** True for an exit code that `exitForSignal` gives: that ptg was interrupted, it did not fail. */
export function isSignalExit(code: number | undefined): code is number {
  return code !== undefined && Object.values(SIGNAL_EXIT).includes(code);
}

/** The fields Node's errno errors, execa's errors and simple-git's GitError carry, as far as they are read here. */
interface ErrorFields {
  code?: unknown;
  syscall?: unknown;
  path?: unknown;
  message?: unknown;
  /** execa: the command line and what the process wrote on stderr. */
  command?: unknown;
  stderr?: unknown;
  /** simple-git's GitError: the task that failed; its message is git's stderr. */
  task?: unknown;
  /** execa: the spawn error (errno, syscall, path) behind a command that could not start. */
  cause?: unknown;
}

/**
 * The machine, not ptg, is at fault (a full disk, a folder ptg may not write, a missing tool,
 * git refusing a repository): one line naming the path and the cause, exit 1. Undefined for
 * anything else, which is a bug in ptg. Pure: it reads only the error's fields.
 */
export function environmentError(error: unknown): PtgError | undefined {
  if (!error || typeof error !== 'object' || error instanceof PtgError) return undefined;
  const e = error as ErrorFields;
  const refusal = gitRefusal(e);
  if (refusal) return new PtgError(refusal);
  // execa keeps the code on the error and the rest of the spawn error on its cause.
  const cause = e.cause && typeof e.cause === 'object' ? (e.cause as ErrorFields) : {};
  const code = str(e.code) ?? str(cause.code);
  const syscall = str(e.syscall) ?? str(cause.syscall) ?? '';
  const spawned = /^spawn(Sync)? /.test(syscall);
  const file = str(e.path) ?? str(cause.path) ?? (spawned ? syscall.replace(/^spawn(Sync)? /, '') : undefined);
  const on = file ? ` for ${file}` : '';
  switch (code) {
    case 'ENOENT':
      // Other ENOENTs are a file that ptg expected: that can be a bug, so it keeps its stack.
      if (!spawned || !file) return undefined;
      return new PtgError(file.includes('/') ? `${file} not found: check the path.` : `${file} not found on PATH: install it, or add its folder to PATH.`);
    case 'EACCES':
    case 'EPERM':
      return new PtgError(
        spawned ? `Permission denied running ${file ?? 'a program'}: make it executable (chmod +x) or name another one.` : `Permission denied${on}: give your user access to it, or choose another folder.`,
      );
    case 'ENOSPC':
      return new PtgError(`No space left on device${on}: free some space, then run again.`);
    case 'EDQUOT':
      return new PtgError(`Disk quota exceeded${on}: free some space or ask for a larger quota, then run again.`);
    case 'EROFS':
      return new PtgError(`Read-only file system${on}: choose a writable folder (--workspace, --out), then run again.`);
    case 'EMFILE':
    case 'ENFILE':
      return new PtgError(`Too many open files${on}: raise the limit (\`ulimit -n 4096\`) or run fewer agents at once with -j.`);
    default:
      return undefined;
  }
}

/** git's `fatal:` line from an execa error's stderr or a GitError's message, as one sentence. */
function gitRefusal(e: ErrorFields): string | undefined {
  const text = typeof e.stderr === 'string' && typeof e.command === 'string' ? e.stderr : e.task !== undefined ? str(e.message) : undefined;
  const fatal = text && /^fatal: .*$/m.exec(text)?.[0].trim();
  if (!fatal) return undefined;
  const repo = /detected dubious ownership in repository at '([^']+)'/.exec(fatal)?.[1];
  if (repo) {
    return `git refuses the repository at ${repo}: it belongs to another user. If you trust it, run \`git config --global --add safe.directory ${repo}\`.`;
  }
  const program = typeof e.command === 'string' ? e.command.split(' ')[0] : 'git';
  return `${program}: ${fatal}`;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
