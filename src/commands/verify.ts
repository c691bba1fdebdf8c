import { checkSpecs } from '../core/checks/checks.js';
import { findRun } from '../core/workspace/manifest.js';
import { findVersion } from '../core/root/root.js';
import { agentEnv, checksOf, runSecrets, versionSettings } from '../core/run/settings.js';
import { verifyRun } from '../core/checks/verify.js';
import { EXIT, exitForSignal, UsageError } from '../errors.js';
import { prepareSandbox, sandboxSettings } from '../core/agent/sandbox.js';
import { NETWORK_ON } from '../core/agent/network.js';
import { checkCell, warningLine } from '../render/run.js';
import { table } from '../render/style.js';
import { experimentLabel } from '../core/workspace/experiment-folder.js';
import { type GlobalFlags, loadContext, printJson } from './context.js';
import { parseIdList } from '../core/root/root.js';
import { positiveInt } from './run.js';

export interface VerifyFlags extends GlobalFlags {
  args: string[];
  check?: string[];
  stp?: string;
  checkConcurrency?: string;
  sandbox?: string;
  sandboxRo?: string[];
  sandboxRw?: string[];
  network?: string;
  signal: AbortSignal;
  ptgVersion: string;
}

/** `ptg verify <version> [run-id] [--check NAME]`: the checks again on the recorded changes, no agent. */
export async function verifyCommand(flags: VerifyFlags): Promise<number> {
  const ctx = await loadContext(flags);
  const [versionName, runId] = flags.args as [string, string | undefined];
  findVersion(ctx.root, versionName);
  const settings = versionSettings(ctx.root.config, versionName);
  const configured = checksOf(settings);
  const names = (flags.check ?? []).flatMap((n) => n.split(',')).map((n) => n.trim()).filter(Boolean);
  const checks = names.length
    ? names.map((name) => {
        const spec = configured.find((c) => c.name === name) ?? (['pyright', 'pytest-collect'].includes(name) ? checkSpecs([name])[0] : undefined);
        if (!spec) throw new UsageError(`--check ${name}: ${versionName} has no such check. Its checks: ${configured.map((c) => c.name).join(', ')} (and the built-ins pyright, pytest-collect).`);
        return spec;
      })
    : configured;
  const manifest = await findRun(ctx.workspace, versionName, runId);
  const { env, added } = agentEnv(process.env, settings.entries);
  ctx.print(`Verifying ${versionName} ${manifest.runId}: ${checks.map((c) => c.name).join(', ')} on ${manifest.experiments.length} experiment(s); no agent runs.`);
  // No agent runs: --network is what the checks reach (default: sandbox.checkNetwork, off).
  const box = sandboxSettings(flags, process.env, ctx.root.config.sandbox, { root: ctx.root.dir, cwd: process.cwd() });
  const asked = flags.network !== undefined;
  const sandbox = await prepareSandbox({ ...box, network: asked ? box.network : NETWORK_ON, checkNetwork: asked ? box.network : box.checkNetwork }, { env, workspace: ctx.workspace });
  if (sandbox.warning) process.stderr.write(`${warningLine(sandbox.warning)}\n`);
  const results = await verifyRun({
    sandbox,
    workspace: ctx.workspace,
    manifest,
    checks,
    env,
    secrets: runSecrets(env, [...settings.required, ...added]),
    stps: parseIdList(flags.stp),
    checkConcurrency: positiveInt(flags.checkConcurrency, '--check-concurrency') ?? ctx.root.config.checkConcurrency,
    ptgVersion: flags.ptgVersion,
    signal: flags.signal,
  });
  if (flags.json) printJson({ format: 1, version: versionName, runId: manifest.runId, checks: checks.map((c) => c.name), experiments: results });
  const rows = results.map((r) => [
    experimentLabel(r.stp, r.model, r.repeat),
    ...checks.map((c) => (r.after ? `${checkCell(r.before[c.name])} → ${checkCell(r.after[c.name])}` : '—')),
    r.skipped ? `not verified: ${r.skipped}` : '',
  ]);
  for (const line of table(rows, ['STP', ...checks.map((c) => `${c.name} (before → now)`), ''])) ctx.print(line);
  const done = results.filter((r) => r.after).length;
  ctx.result(`${done}/${results.length} experiment(s) verified; the new results are in each status.json beside the old ones. Next: ptg collect ${versionName} ${manifest.runId}`);
  if (flags.signal.aborted) return exitForSignal(flags.signal.reason);
  return results.some((r) => r.skipped && !r.skipped.startsWith('no recorded changes')) ? EXIT.failed : EXIT.ok;
}
