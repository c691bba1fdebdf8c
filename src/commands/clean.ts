import { clean, planClean } from '../core/setup/clean.js';
import { EXIT, UsageError } from '../errors.js';
import { sym } from '../render/style.js';
import { type GlobalFlags, loadContext, printJson } from './context.js';

export interface CleanFlags extends GlobalFlags {
  experiments?: boolean;
  results?: boolean;
  slots?: boolean;
  all?: boolean;
  version?: string;
  force?: boolean;
  dryRun?: boolean;
}

export async function cleanCommand(flags: CleanFlags): Promise<number> {
  const ctx = await loadContext(flags);
  const what = { experiments: flags.experiments || flags.all, results: flags.results || flags.all, slots: flags.slots || flags.all };
  if (!what.experiments && !what.results && !what.slots) {
    throw new UsageError('Say what to clean: --experiments, --results, --slots or --all.');
  }
  const req = { workspace: ctx.workspace, ...what, version: flags.version, versions: ctx.root.versions.map((v) => v.name), force: Boolean(flags.force) };
  if (flags.dryRun) {
    const plan = await planClean(req);
    if (flags.json) printJson(plan);
    for (const p of plan.remove) ctx.print(`would remove ${p}`);
    for (const d of plan.dirty) ctx.print(`${sym.warn} ${d} holds uncommitted work (needs --force)`);
    return EXIT.ok;
  }
  const removed = await clean(req);
  if (flags.json) printJson(removed);
  for (const p of removed) ctx.print(`removed ${p}`);
  ctx.print(`${sym.ok} ${removed.length} removed.`);
  return EXIT.ok;
}
