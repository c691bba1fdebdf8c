import path from 'node:path';
import { pack } from '../../core/reports/merge.js';
import { findVersion } from '../../core/root/root.js';
import { EXIT } from '../../errors.js';
import { sym } from '../../render/style.js';
import { type GlobalFlags, loadContext, printJson } from '../context.js';

export async function packCommand(flags: GlobalFlags & { args: string[]; out?: string }): Promise<number> {
  const ctx = await loadContext(flags);
  const [version, runId] = flags.args as [string, string | undefined];
  findVersion(ctx.root, version);
  const result = await pack(ctx.workspace, version, runId, flags.out ? path.resolve(flags.out) : ctx.workspace);
  if (flags.json) printJson(result);
  ctx.print(`${sym.ok} ${result.experiments} experiment folder(s) packed into ${result.file}`);
  return EXIT.ok;
}
