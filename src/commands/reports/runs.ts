import { listRuns, type RunManifest } from '../../core/workspace/manifest.js';
import { isAlive } from '../../core/workspace/lock.js';
import { queuedJobs } from './slurm-jobs.js';
import { EXIT } from '../../errors.js';
import { checksBrief, money } from '../../render/run.js';
import { table } from '../../render/style.js';
import { type GlobalFlags, loadContext, printJson } from '../context.js';

export async function runsCommand(flags: GlobalFlags & { args: string[] }): Promise<number> {
  const ctx = await loadContext(flags);
  const runs = await listRuns(ctx.workspace, flags.args[0]);
  if (flags.json) printJson(runs.map(({ experiments, ...run }) => ({ ...run, experiments: experiments.length, checks: checkTotals(experiments) })));
  if (runs.length === 0) {
    ctx.print(`No runs in ${ctx.workspace} yet: start one with \`ptg run <version>\`.`);
    return EXIT.ok;
  }
  const rows: string[][] = [];
  for (const r of runs) {
    const count = (state: string) => r.experiments.filter((e) => e.state === state).length;
    const state = await stateOf(r);
    rows.push([
      r.version,
      r.runId,
      r.startedAt.replace('T', ' ').replace(/\..*/, ''),
      r.experiments.map((e) => (e.repeat ? `${e.stp}r${e.repeat}` : e.stp)).join(','),
      `${count('succeeded')}/${r.experiments.length}`,
      String(r.experiments.length - count('succeeded') - count('running') - count('pending')),
      money(r.experiments.reduce((s, e) => s + (e.costUsd ?? 0), 0)),
      checksBrief(r.experiments.map((e) => e.checks ?? {})) || '—',
      state,
    ]);
  }
  for (const line of table(rows, ['Version', 'Run id', 'Started (UTC)', 'STPs', 'Succeeded', 'Failed', 'Cost', 'Checks passed', 'State'])) ctx.print(line);
  return EXIT.ok;
}

/** `finished`, `stale` (its ptg gone, or none of its Slurm jobs queued), or a Slurm run's jobs by state: `running (slurm 4711: 2 RUNNING, 1 PENDING)`. */
async function stateOf(run: RunManifest): Promise<string> {
  if (!run.slurm) return run.state === 'running' && !isAlive(run.pid) ? 'stale' : run.state;
  if (run.state !== 'running') return `${run.state} (slurm)`;
  const queued = await queuedJobs(run);
  if (!queued) return 'running (slurm: no squeue here)';
  if (queued.length === 0) return 'stale (slurm: no job queued)';
  const counts = new Map<string, number>();
  for (const job of queued) counts.set(job.state, (counts.get(job.state) ?? 0) + 1);
  return `running (slurm ${run.slurm.arrayJobId}: ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')})`;
}

/** Per check, over a run's experiments: how many passed, failed, and could not run. */
function checkTotals(experiments: { checks?: Record<string, boolean | null> }[]): Record<string, { passed: number; failed: number; notRun: number }> {
  const totals: Record<string, { passed: number; failed: number; notRun: number }> = {};
  for (const e of experiments) {
    for (const [name, passed] of Object.entries(e.checks ?? {})) {
      const t = (totals[name] ??= { passed: 0, failed: 0, notRun: 0 });
      if (passed === null) t.notRun++;
      else if (passed) t.passed++;
      else t.failed++;
    }
  }
  return totals;
}
