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
export const EXIT = { ok: 0, failed: 1, usage: 2, hangup: 129, interrupted: 130, terminated: 143 } as const;

const SIGNAL_EXIT: Record<string, number> = { SIGHUP: EXIT.hangup, SIGINT: EXIT.interrupted, SIGTERM: EXIT.terminated };

/** The exit code of a ptg that `signal` (an abort reason: the signal's name) wound down; Ctrl-C's when it is none of the three. */
export function exitForSignal(signal: unknown): number {
  return SIGNAL_EXIT[String(signal)] ?? EXIT.interrupted;
}

/** True for an exit code that `exitForSignal` gives: that ptg was interrupted, it did not fail. */
export function isSignalExit(code: number | undefined): code is number {
  return code !== undefined && Object.values(SIGNAL_EXIT).includes(code);
}
