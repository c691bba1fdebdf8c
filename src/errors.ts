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

/** Exit codes, in one place. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;
