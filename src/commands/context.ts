import { type Root, loadRoot } from '../core/root/root.js';
import { resolveWorkspace } from '../core/workspace/workspace.js';
import { UsageError } from '../errors.js';

/** Flags every command takes. */
export interface GlobalFlags {
  root?: string;
  workspace?: string;
  json?: boolean;
  quiet?: boolean;
}

export interface Context {
  root: Root;
  workspace: string;
  flags: GlobalFlags;
  /** Human output: stderr when --json owns stdout. */
  out: NodeJS.WriteStream;
  /** A terminal that can show a live view. */
  live: boolean;
  print(line?: string): void;
  /** The final result: printed even with --quiet. */
  result(line?: string): void;
}

export async function loadContext(flags: GlobalFlags): Promise<Context> {
  const root = await loadRoot(flags.root ?? process.cwd());
  return { root, workspace: resolveWorkspace(root, flags.workspace), ...output(flags) };
}

/** Where human-readable lines go, for commands that need no experiment root. */
export function output(flags: GlobalFlags): Omit<Context, 'root' | 'workspace'> {
  const out = flags.json ? process.stderr : process.stdout;
  const live = Boolean(out.isTTY) && !flags.quiet && process.env.CI === undefined && process.env.TERM !== 'dumb';
  const result = (line = '') => out.write(`${line}\n`);
  const print = (line = '') => {
    if (!flags.quiet) result(line);
  };
  return { flags, out, live, print, result };
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `--model` of one experiment (show, handoff): the option repeats for `ptg run`, here it names one. */
export function oneModel(models: string[] | undefined): string | undefined {
  const named = (models ?? []).flatMap((m) => m.split(',')).map((m) => m.trim()).filter(Boolean);
  if (named.length > 1) throw new UsageError(`--model ${named.join(',')}: name the experiment's one model.`);
  return named[0];
}
