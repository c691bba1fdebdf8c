import { createRequire } from 'node:module';
import path from 'node:path';

export interface Diagnostic {
  file: string;
  line: number;
  severity: 'error' | 'warning' | 'information';
  message: string;
  rule?: string;
}

export interface PyrightVerdict {
  files: string[];
  errors: number;
  warnings: number;
  diagnostics: Diagnostic[];
  /** Set when pyright itself could not run: then the counts mean nothing. */
  failure?: string;
  /** Ended at its timeout: no counts either. */
  timedOut?: boolean;
}

const require = createRequire(import.meta.url);
/** pyright from npm, a dependency of ptg: no download, works offline (its folder: what a sandbox shows of it). */
export const PYRIGHT_DIR = path.dirname(require.resolve('pyright/package.json'));
const PYRIGHT = path.join(PYRIGHT_DIR, 'index.js');

/**
 * Checks `files` (paths relative to `cwd`) with pyright, resolving imports with `python` (the
 * slot's .venv interpreter) when given; ended at `timeoutMs` (default 10 minutes) or when `signal`
 * aborts. `wrap`: in the slot's sandbox, since pyright runs that interpreter, which the agent could have replaced.
 */
export async function checkPython(
  cwd: string,
  files: string[],
  opts: { python?: string; timeoutMs?: number; signal?: AbortSignal; wrap?: (command: string, args: string[]) => { command: string; args: string[] } } = {},
): Promise<PyrightVerdict> {
  const verdict: PyrightVerdict = { files, errors: 0, warnings: 0, diagnostics: [] };
  if (files.length === 0) return verdict;
  const { python } = opts;
  const args = [PYRIGHT, '--outputjson', ...(python ? ['--pythonpath', python] : []), ...files];
  const { execa } = await import('execa');
  const run = opts.wrap ? opts.wrap(process.execPath, args) : { command: process.execPath, args };
  const result = await execa(run.command, run.args, { cwd, reject: false, stdin: 'ignore', timeout: opts.timeoutMs ?? 10 * 60_000, cancelSignal: opts.signal });
  if (result.timedOut) return { ...verdict, timedOut: true, failure: `pyright timed out` };
  let report: any;
  try {
    report = JSON.parse(result.stdout);
  } catch {
    const why = String(result.stderr || result.stdout || result.shortMessage).split('\n')[0];
    return { ...verdict, failure: `pyright did not run: ${why}` };
  }
  for (const d of report.generalDiagnostics ?? []) {
    verdict.diagnostics.push({
      file: path.relative(cwd, d.file ?? ''),
      line: (d.range?.start?.line ?? 0) + 1,
      severity: d.severity,
      message: d.message,
      rule: d.rule,
    });
  }
  verdict.errors = report.summary?.errorCount ?? verdict.diagnostics.filter((d) => d.severity === 'error').length;
  verdict.warnings = report.summary?.warningCount ?? verdict.diagnostics.filter((d) => d.severity === 'warning').length;
  return verdict;
}

export async function pyrightVersion(): Promise<string> {
  return (require('pyright/package.json') as { version: string }).version;
}
