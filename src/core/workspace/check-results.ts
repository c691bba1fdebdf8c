// What checks decided, as status.json, the manifest and the reports keep it: apart from
// core/checks/checks.ts (which runs processes) so that reports load nothing but this.
import type { SandboxRecord } from './manifest.js';

/** Which way a check's count is good: fewer findings, or more tests. */
export type Better = 'higher' | 'lower';

/** The direction of a count when the config gives none: pytest-collect counts tests, every other check findings. */
export function defaultBetter(check: string): Better {
  return check === 'pytest-collect' ? 'higher' : 'lower';
}

/** One check's verdict, as status.json keeps it under `checks.<name>`. */
export interface CheckResult {
  /** null: the check could not run (its tool is missing, nothing to check): no verdict on the agent. */
  passed: boolean | null;
  count: number | null;
  durationMs: number;
  /** Why the check could not run. */
  error?: string;
  /** It did not run because the agent changed nothing it checks (no Python file, no test file). */
  nothingToCheck?: true;
  /** What failed, in one line: pytest's first collection error, `timed out after 20m`. */
  detail?: string;
  /** Ended at its `timeout`: it did not pass. */
  timedOut?: true;
}

export type CheckResults = Record<string, CheckResult>;

/** One `ptg verify` of an experiment: the checks run again on its recorded changes, output in `dir`. */
export interface Verification {
  at: string;
  ptgVersion: string;
  /** `checks/verify-<n>`, inside the experiment folder. */
  dir: string;
  checks: CheckResults;
  /** What the checks ran under (core/agent/sandbox.ts). */
  sandbox?: SandboxRecord;
}

/**
 * The verdicts that stand: the run's own, each replaced by a later verification's of the same
 * check (both stay in status.json). A status from before checks has its pyright field as one.
 */
export function latestChecks(s: { checks?: CheckResults; pyright?: { errors: number; failure?: string }; verifications?: Verification[] }): { checks: CheckResults; verifiedAt?: string } {
  const own: CheckResults = s.checks ?? (s.pyright ? { pyright: { passed: s.pyright.failure ? null : s.pyright.errors === 0, count: s.pyright.failure ? null : s.pyright.errors, durationMs: 0, ...(s.pyright.failure ? { error: s.pyright.failure } : {}) } } : {});
  const checks = { ...own };
  for (const v of s.verifications ?? []) Object.assign(checks, v.checks);
  return { checks, verifiedAt: s.verifications?.at(-1)?.at };
}

/** What the manifest keeps of the checks: pass or fail (null: could not run), by name. */
export function passedOf(checks: CheckResults): Record<string, boolean | null> | undefined {
  const names = Object.keys(checks);
  return names.length ? Object.fromEntries(names.map((n) => [n, checks[n]!.passed])) : undefined;
}
