import { DEFAULT_REPO } from '../core/root/config.js';
import { parseIdList, parseShard, selectStps, shardOf } from '../core/root/root.js';
import { resolveRepo, setup, type SetupStep } from '../core/setup/setup.js';
import { EXIT, UsageError } from '../errors.js';
import { LiveView } from '../render/live.js';
import { c, sym, table } from '../render/style.js';
import { type GlobalFlags, loadContext, printJson } from './context.js';

export interface SetupFlags extends GlobalFlags {
  repo?: string;
  ref?: string;
  history?: string;
  python?: boolean;
  stp?: string;
  shard?: string;
  shardFromEnv?: string;
}

export async function setupCommand(flags: SetupFlags): Promise<number> {
  const ctx = await loadContext(flags);
  const { config } = ctx.root;
  const shard = shardOf(flags);
  const stps = selectStps(ctx.root.stps, parseIdList(flags.stp), shard ? parseShard(shard) : undefined);
  if (stps.length === 0) {
    ctx.print(`Shard ${shard} has no STPs (${ctx.root.stps.length} STPs in all): nothing to set up.`);
    return EXIT.ok;
  }
  // A path given on the command line is relative to where ptg runs; one in the config, to the root.
  const repo = flags.repo ? resolveRepo(flags.repo, process.cwd()) : resolveRepo(config.repo ?? DEFAULT_REPO, ctx.root.dir);
  const history = flags.history ?? config.history ?? 'base';
  if (history !== 'base' && history !== 'none') throw new UsageError(`--history ${history}: say base (the base commit's ancestors) or none (the one commit).`);
  const python = flags.python === false || config.python === false ? false : config.python;

  const steps = new Map<string, string>();
  const view = ctx.live ? new LiveView(ctx.out, () => stps.map((s) => `STP ${s.id.padEnd(4)} ${steps.get(s.id) ?? c.dim('waiting')}`)) : undefined;
  ctx.print(`Setting up ${stps.length} slot(s) of ${repo} in ${ctx.workspace}`);
  const started = Date.now();
  const result = await setup(
    { workspace: ctx.workspace, repo, ref: flags.ref ?? config.ref, history, stps, versions: ctx.root.versions, python },
    {
      onMirror: (state, commit) => {
        if (state === 'start') ctx.print(`${sym.run} fetching ${repo}`);
        else {
          ctx.print(`${sym.ok} fetched, base commit ${commit!.slice(0, 10)}`);
          view?.start();
        }
      },
      onStep: (stp: string, step: SetupStep, state, detail) => {
        const mark = state === 'start' ? sym.run : state === 'done' ? sym.ok : sym.fail;
        const text = `${mark} ${step}${detail ? `: ${detail}` : ''}`;
        steps.set(stp, text);
        if (!view && (state !== 'start' || !flags.quiet)) ctx.print(`[STP ${stp}] ${text}`);
      },
    },
  );
  view?.stop();

  if (flags.json) printJson(result);
  const rows = result.slots.map((s) => [
    s.stp,
    s.slot,
    s.ok ? `${sym.ok} ${s.checkout}` : `${sym.fail} ${s.checkout}`,
    s.python?.status ?? '—',
    s.baseCommit?.slice(0, 10) ?? '—',
  ]);
  ctx.print();
  for (const line of table(rows, ['STP', 'Slot', 'Checkout', 'Python', 'Base'])) ctx.print(line);
  const failed = result.slots.filter((s) => !s.ok);
  for (const s of failed) ctx.result(`${sym.fail} STP ${s.stp}: ${s.reason}`);
  ctx.print();
  ctx.result(`${failed.length === 0 ? sym.ok : sym.warn} ${result.slots.length - failed.length}/${result.slots.length} slots ready in ${((Date.now() - started) / 1000).toFixed(1)}s.`);
  const version = ctx.root.versions[0]!.name;
  ctx.print(`Next: ${c.bold(`ptg run ${version}`)}${ctx.root.versions.length > 1 ? `   (versions: ${ctx.root.versions.map((v) => v.name).join(', ')})` : ''}`);
  return failed.length === 0 ? EXIT.ok : EXIT.failed;
}
