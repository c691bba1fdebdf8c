import { chooseAgent } from '../core/agent/agent.js';
import { doctor } from '../core/setup/doctor.js';
import { sandboxSettings } from '../core/agent/sandbox.js';
import { versionSettings } from '../core/run/settings.js';
import { EXIT } from '../errors.js';
import { sym, table } from '../render/style.js';
import { type GlobalFlags, loadContext, output, printJson } from './context.js';
import { resolve } from 'node:path';

export async function doctorCommand(flags: GlobalFlags & { agent?: string; sandbox?: string; sandboxRo?: string[]; sandboxRw?: string[]; network?: string }): Promise<number> {
  // Doctor must work where the root is broken too: then it checks the machine alone.
  const ctx = await loadContext(flags).catch(() => undefined);
  const print = ctx?.print ?? output(flags).print;
  const workspace = ctx?.workspace ?? resolve(flags.workspace ?? 'parallel');
  const agent = chooseAgent(flags.agent, process.env, ctx?.root.config.agent?.command);
  const requiredEnv = (ctx?.root.versions ?? []).map((v) => ({ version: v.name, names: versionSettings(ctx!.root.config, v.name).required })).filter((r) => r.names.length > 0);
  const sandbox = () => sandboxSettings(flags, process.env, ctx?.root.config.sandbox, { root: ctx?.root.dir ?? process.cwd(), cwd: process.cwd() });
  const checks = await doctor({ workspace, agent, env: process.env, requiredEnv, sandbox });
  if (flags.json) printJson(checks);
  for (const line of table(checks.map((c) => [c.ok ? sym.ok : c.warning ? sym.warn : sym.fail, c.name, c.detail]))) print(line);
  return checks.every((c) => c.ok || c.warning) ? EXIT.ok : EXIT.failed;
}
