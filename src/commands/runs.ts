import { listRuns } from '../core/manifest.js';
import { isAlive } from '../core/lock.js';
import { EXIT } from '../errors.js';
import { money } from '../render/run.js';
import { table } from '../render/style.js';
import { type GlobalFlags, loadContext, printJson } from './context.js';

export async function runsCommand(flags: GlobalFlags & { args: string[] }): Promise<number> {
  const ctx = await loadContext(flags);
  const runs = await listRuns(ctx.workspace, flags.args[0]);
  if (flags.json) printJson(runs.map(({ experiments, ...run }) => ({ ...run, experiments: experiments.length })));
  if (runs.length === 0) {
    ctx.print(`No runs in ${ctx.workspace} yet: start one with \`ptg run <version>\`.`);
    return EXIT.ok;
  }
  const rows = runs.map((r) => {
    const count = (state: string) => r.experiments.filter((e) => e.state === state).length;
    const state = r.state === 'running' && !isAlive(r.pid) ? 'stale' : r.state;
    return [
      r.version,
      r.runId,
      r.startedAt.replace('T', ' ').replace(/\..*/, ''),
      r.experiments.map((e) => (e.repeat ? `${e.stp}r${e.repeat}` : e.stp)).join(','),
      `${count('succeeded')}/${r.experiments.length}`,
      String(r.experiments.length - count('succeeded') - count('running') - count('pending')),
      money(r.experiments.reduce((s, e) => s + (e.costUsd ?? 0), 0)),
      state,
    ];
  });
  for (const line of table(rows, ['Version', 'Run id', 'Started (UTC)', 'STPs', 'Succeeded', 'Failed', 'Cost', 'State'])) ctx.print(line);
  return EXIT.ok;
}
